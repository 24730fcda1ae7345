package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/protocol"
)

// hubErase is `bikfed hub erase ID --reason "…"`: the coordination team
// erases an entity of any owner, typically of a SIC that no longer runs its
// node. A running hub is asked through its admin API, so only it writes
// hub.db; with none running, the command opens the hub itself.
func (e *cmdEnv) hubErase(ctx context.Context, args []string) error {
	id, args := leadingArg(args)
	cfg := hub.DefaultConfig()
	s := newSettings("bikfed hub erase", e.stderr)
	hubFlags(s, &cfg)
	var reason, url string
	s.fs.StringVar(&reason, "reason", "", "why the coordination team erases it (required; kept with the erasure and shown in the status)")
	s.fs.StringVar(&url, "hub-url", "", "the running hub's address (default: the one in <data>/hub.addr)")
	if err := s.parse(args); err != nil {
		return err
	}
	if id == "" || reason == "" {
		return fmt.Errorf(`erase: give the entity id and a reason, e.g. bikfed hub erase be:01JKT3S6M00M2GA1850M2GA185 --reason "GDPR request 4411; the SIC closed its node"`)
	}
	if _, err := protocol.SplitEntityID(id); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	if err := protocol.ValidErasureReason(reason); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	given := url != ""
	if !given {
		if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "hub.addr")); err == nil {
			url = "http://" + strings.TrimSpace(string(b))
		}
	}
	var res hub.AdminEraseResult
	err := errNoHub
	if url != "" {
		token := cfg.AdminToken
		if token == "" {
			b, rerr := os.ReadFile(filepath.Join(cfg.DataDir, "admin.token"))
			if rerr != nil {
				return fmt.Errorf("erase: operator token: %w", rerr)
			}
			token = strings.TrimSpace(string(b))
		}
		res, err = eraseViaAdmin(ctx, url, token, id, reason)
	}
	if errors.Is(err, errNoHub) && !given {
		// hub.addr outlives the server that wrote it.
		res, err = e.eraseOffline(ctx, cfg, s, id, reason)
	}
	if err != nil {
		return fmt.Errorf("erase %s: %w", id, err)
	}
	if res.HubSeq == 0 {
		fmt.Fprintf(e.stdout, "%s was erased already\n", id)
		return nil
	}
	fmt.Fprintf(e.stdout, "erased %s at hub_seq %d; bikfed hub status shows the nodes still to purge it\n", id, res.HubSeq)
	return nil
}

// errNoHub says no hub answers at the address: the command may open the
// database itself.
var errNoHub = errors.New("no hub is running")

// eraseViaAdmin asks the running hub at base to erase id.
func eraseViaAdmin(ctx context.Context, base, token, id, reason string) (hub.AdminEraseResult, error) {
	var res hub.AdminEraseResult
	body, _ := json.Marshal(map[string]string{"id": id, "reason": reason})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+hub.PathAdminErasures, bytes.NewReader(body))
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// Only a refused connection means nothing listens there; any other
		// failure may have reached a hub, which must not be bypassed.
		if errors.Is(err, syscall.ECONNREFUSED) {
			return res, errNoHub
		}
		return res, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return res, err
	}
	if resp.StatusCode != http.StatusOK {
		var er protocol.ErrorResponse
		if json.Unmarshal(b, &er) == nil && er.Error != nil && er.Error.Code != "" {
			return res, er.Error
		}
		return res, fmt.Errorf("hub answered %s", resp.Status)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("decode answer: %w", err)
	}
	return res, nil
}

// eraseOffline opens the hub's database, with no server running, and erases
// id there; the server applies it to every node once it runs again.
func (e *cmdEnv) eraseOffline(ctx context.Context, cfg hub.Config, s *settings, id, reason string) (hub.AdminEraseResult, error) {
	if err := cfg.Validate(); err != nil {
		return hub.AdminEraseResult{}, fmt.Errorf("hub configuration: %w", err)
	}
	log, err := s.logger(e.stderr)
	if err != nil {
		return hub.AdminEraseResult{}, err
	}
	cfg.Gossip.Logger = log
	h, err := hub.Open(ctx, cfg, log)
	if err != nil {
		return hub.AdminEraseResult{}, err
	}
	defer h.Close()
	seq, err := h.EraseEntity(ctx, id, reason)
	return hub.AdminEraseResult{ID: id, HubSeq: seq}, err
}

// erasureLine is how hub status shows an erasure.
func erasureLine(er protocol.Erasure) string {
	state := "complete"
	switch {
	case er.Complete:
	case len(er.Pending) > 0:
		state = "waiting for " + strings.Join(er.Pending, ", ")
	default:
		state = "acknowledged by every holder; completing"
	}
	by := ""
	if er.By == protocol.ErasedByHub {
		by = fmt.Sprintf(" (by the coordination team: %s)", er.Reason)
	}
	return fmt.Sprintf("erasure %s%s: %s", er.ID, by, state)
}
