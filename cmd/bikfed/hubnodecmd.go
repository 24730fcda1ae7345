package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// hubNode is `bikfed hub node suspend|resume|rotate-key|remove ID`: the
// coordination team's actions on a node, through the hub's admin API so a
// running hub applies them at once.
func (e *cmdEnv) hubNode(ctx context.Context, args []string) error {
	action, args := leadingArg(args)
	switch action {
	case "suspend", "resume", "rotate-key", "remove":
	default:
		return errUsage
	}
	id, args := leadingArg(args)
	var keep, erase bool
	c, done, err := e.hubAdmin(ctx, "node "+action, args, func(s *settings) {
		if action == "remove" {
			s.fs.BoolVar(&keep, "keep-content", false, "keep the node's entities on the hub and the portal")
			s.fs.BoolVar(&erase, "erase-content", false, "erase the node's entities network-wide")
		}
	})
	if err != nil {
		return err
	}
	defer done()
	if id == "" {
		return fmt.Errorf("node %s: give the node id, e.g. bikfed hub node %s be", action, action)
	}
	var body any
	if action == "remove" {
		if keep == erase {
			return fmt.Errorf("node remove: choose what happens to the node's content: --keep-content or --erase-content")
		}
		content := "keep"
		if erase {
			content = "erase"
		}
		body = map[string]string{"content": content}
	}
	var res struct {
		Node          string   `json:"node"`
		Token         string   `json:"token"`
		RetiredKeys   []string `json:"retired_keys"`
		RetiredHubSeq int64    `json:"retired_hub_seq"`
		Erased        int      `json:"erased"`
	}
	if err := c.doJSON(ctx, "POST", "/admin/v1/nodes/"+url.PathEscape(id)+"/"+action, body, &res); err != nil {
		return err
	}
	switch action {
	case "suspend":
		fmt.Fprintf(e.stdout, "%s suspended: its sync requests are refused; its content stays\n", id)
	case "resume":
		fmt.Fprintf(e.stdout, "%s resumed\n", id)
	case "rotate-key":
		fmt.Fprintf(e.stderr, "retired %s (valid up to hub_seq %d); the node enrols a new key with: bikfed node rekey --token <token>\n",
			strings.Join(res.RetiredKeys, ", "), res.RetiredHubSeq)
		fmt.Fprintln(e.stdout, res.Token)
	case "remove":
		fmt.Fprintf(e.stdout, "%s removed: credential revoked, keys %s retired at hub_seq %d", id, strings.Join(res.RetiredKeys, ", "), res.RetiredHubSeq)
		if erase {
			fmt.Fprintf(e.stdout, ", %d entities erased", res.Erased)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}
