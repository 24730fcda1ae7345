package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/protocol"
)

// hubErase is `bikfed hub erase ID --reason "…"`: the coordination team
// erases an entity of any owner, typically of a SIC that no longer runs its
// node. Like every one-shot command it acts through the running hub's admin
// API, so only the server writes hub.db.
func (e *cmdEnv) hubErase(ctx context.Context, args []string) error {
	id, args := leadingArg(args)
	var reason string
	c, done, err := e.hubAdmin(ctx, "erase", args, func(s *settings) {
		s.fs.StringVar(&reason, "reason", "", "why the coordination team erases it (required; kept with the erasure and shown in the status)")
	})
	if err != nil {
		return err
	}
	defer done()
	if id == "" || reason == "" {
		return fmt.Errorf(`erase: give the entity id and a reason, e.g. bikfed hub erase be:01JKT3S6M00M2GA1850M2GA185 --reason "GDPR request 4411; the SIC closed its node"`)
	}
	if _, err := protocol.SplitEntityID(id); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	if err := protocol.ValidErasureReason(reason); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	var res hub.AdminEraseResult
	if err := c.doJSON(ctx, "POST", hub.PathAdminErasures, map[string]string{"id": id, "reason": reason}, &res); err != nil {
		return fmt.Errorf("erase %s: %w", id, err)
	}
	if res.HubSeq == 0 {
		fmt.Fprintf(e.stdout, "%s was erased already\n", id)
		return nil
	}
	fmt.Fprintf(e.stdout, "erased %s at hub_seq %d; bikfed hub status shows the nodes still to purge it\n", id, res.HubSeq)
	return nil
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
