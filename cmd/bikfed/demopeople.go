package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/node"
)

// demoPerson is someone the demo invites. The addresses are under .example,
// a name reserved for examples, so that no demo can ever mail a real person.
type demoPerson struct {
	role  string
	name  string
	email string
	// handle makes a youth member's pseudonym <node>-<handle>; it is no part
	// of their name, since the pseudonym is all the network sees of them.
	handle string
}

// demoPeople are the people of each demo SIC, one per node role, in the
// order of node.Roles.
var demoPeople = map[string][]demoPerson{
	"be": {
		{role: node.RoleAdmin, name: "Sofie Peeters", email: "sofie.peeters@saferinternet-be.example"},
		{role: node.RoleEditor, name: "Mathilde Dubois", email: "mathilde.dubois@saferinternet-be.example"},
		{role: node.RoleStaff, name: "Jonas Schmitz", email: "jonas.schmitz@saferinternet-be.example"},
		{role: node.RoleYouthCoordinator, name: "Nathalie Lambert", email: "nathalie.lambert@saferinternet-be.example"},
		{role: node.RoleYouth, name: "Lucas Maes", email: "lucas.maes@jeugdpanel-be.example", handle: "pixelpanda"},
	},
	"fi": {
		{role: node.RoleAdmin, name: "Aino Virtanen", email: "aino.virtanen@saferinternet-fi.example"},
		{role: node.RoleEditor, name: "Mikko Korhonen", email: "mikko.korhonen@saferinternet-fi.example"},
		{role: node.RoleStaff, name: "Sanna Mäkinen", email: "sanna.makinen@saferinternet-fi.example"},
		{role: node.RoleYouthCoordinator, name: "Juha Nieminen", email: "juha.nieminen@saferinternet-fi.example"},
		{role: node.RoleYouth, name: "Emma Laine", email: "emma.laine@nuorisopaneeli-fi.example", handle: "revontuli"},
	},
	"pt": {
		{role: node.RoleAdmin, name: "Ana Ferreira", email: "ana.ferreira@internetsegura-pt.example"},
		{role: node.RoleEditor, name: "João Silva", email: "joao.silva@internetsegura-pt.example"},
		{role: node.RoleStaff, name: "Marta Costa", email: "marta.costa@internetsegura-pt.example"},
		{role: node.RoleYouthCoordinator, name: "Rui Oliveira", email: "rui.oliveira@internetsegura-pt.example"},
		{role: node.RoleYouth, name: "Inês Santos", email: "ines.santos@paineljovem-pt.example", handle: "gaivota"},
	},
}

// demoTeam is the coordination team on the hub.
var demoTeam = []demoPerson{
	{role: hub.RoleOperator, name: "Elena Rossi", email: "elena.rossi@bik-coordination.example"},
	{role: hub.RoleCoordinator, name: "Pieter De Smet", email: "pieter.desmet@bik-coordination.example"},
}

// demoActor names the demo as who invited its people, in the audit log.
const demoActor = "demo"

// demoInvitation is a person invited, with their one-time link.
type demoInvitation struct {
	demoPerson
	id        int64 // the member's id in their server's accounts
	pseudonym string
	link      string
}

// inviteDemoPeople adds people to store, each with a pseudonym <prefix>-<handle>
// when they have a handle, and returns their invitation links.
func inviteDemoPeople(ctx context.Context, store *account.Store, prefix string, people []demoPerson, link func(token string) string) ([]demoInvitation, error) {
	out := make([]demoInvitation, 0, len(people))
	for _, p := range people {
		var pseudonym string
		if p.handle != "" {
			pseudonym = prefix + "-" + p.handle
		}
		m, tok, err := store.Add(ctx, demoActor, account.NewMember{Email: p.email, Name: p.name, Roles: []string{p.role}, Pseudonym: pseudonym})
		if err != nil {
			return nil, fmt.Errorf("demo member %s of %s: %w", p.role, prefix, err)
		}
		out = append(out, demoInvitation{demoPerson: p, id: m.ID, pseudonym: pseudonym, link: link(tok)})
	}
	return out, nil
}

// localURL is http://localhost:<port> of a loopback listener. Browsers
// treat localhost as a secure context and passkeys need a host name, so
// people are sent there rather than to 127.0.0.1.
func localURL(addr net.Addr) string {
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	return "http://" + net.JoinHostPort("localhost", port)
}

// demoSite is a server whose people the demo prints: its name, where its
// people work, and their links.
type demoSite struct {
	id, name string
	places   [][2]string // label, URL
	people   []demoInvitation
}

// printDemoPeople writes each site's addresses and each person's role, name
// and one-time sign-in link.
func printDemoPeople(w io.Writer, sites []demoSite, until time.Time) {
	fmt.Fprintf(w, "\nPeople: each link below works once, until %s, and lets its person set a password.\n",
		until.Local().Format(time.DateTime))
	fmt.Fprintln(w, "Open them at localhost, as printed: passkeys need a host name. Each workspace keeps")
	fmt.Fprintln(w, "its own sign-in, so one browser can be signed in to every SIC at once.")
	for _, s := range sites {
		fmt.Fprintf(w, "\n  %-4s %s\n", s.id, s.name)
		for _, p := range s.places {
			fmt.Fprintf(w, "    %-19s %s\n", p[0], p[1])
		}
		for _, p := range s.people {
			who := fmt.Sprintf("%s <%s>", p.name, p.email)
			if p.pseudonym != "" {
				who = fmt.Sprintf("%s <%s>, pseudonym %s", p.name, p.email, p.pseudonym)
			}
			fmt.Fprintf(w, "    %-19s %s\n    %-19s %s\n", p.role, who, "", p.link)
		}
	}
	fmt.Fprintln(w)
}

// consoleURL is the hub's console under its base URL.
func consoleURL(base string) string { return strings.TrimRight(base, "/") + "/console/" }
