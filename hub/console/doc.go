// Package console serves the hub's console: the coordination team's pages
// at /console/, where each person signs in with their own hub account. Any
// member sees the network's status and each node's details; coordinators
// and operators see the erasures; operators act on nodes (register,
// suspend, resume, rotate a key, remove) and manage the team's members.
//
// It is built on internal/web for the layout, the middleware and the error
// pages, and mounts internal/signin for sign-in, invitations, password
// resets and the account page. The hub knows nothing of it: the command
// that serves the hub builds a Console and hands it to hub.Hub.SetConsole.
//
// Every action that changes something is a POST behind the site's
// protection against cross-site requests (same origin and the session's
// form token), and those that cannot be undone lightly ask first: a
// confirmation page says what will happen and carries the form that does
// it.
package console
