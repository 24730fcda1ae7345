// Command bikfed runs the hub and the nodes of the Better Internet for Kids
// federation, and the tools around them: enrolment, authoring, sync, verify and
// a local demo of the whole network.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"syscall"

	"github.com/bikfed/bikfed/internal/sqlitedb"
)

const usage = `bikfed — the federated sync hub of the Better Internet for Kids network

Usage:
  bikfed hub [serve]                  run the hub
  bikfed hub register-node ID --name NAME
                                      register a node (or re-enrol it) and print its one-time token
  bikfed hub status [--json]          per-node sync status
  bikfed hub quota ID [--set SIZE]    a node's attachment storage; give it its own quota
  bikfed hub publish --kind K --file F
                                      publish a hub-owned entity (service, moderation, news post)
  bikfed hub erase ID --reason R      erase any owner's entity on the coordination team's authority
  bikfed hub node suspend|resume ID   refuse (or allow again) a node's pushes, pulls and attachments
  bikfed hub node rotate-key ID       retire a node's key and credential, print a token to enrol a new key
  bikfed hub node remove ID --keep-content|--erase-content
                                      deregister a node for good; its content kept or erased
  bikfed hub member add EMAIL --name NAME --role ROLE [--role ROLE…]
                                      invite a member of the coordination team; prints the link
  bikfed hub member list | roles ID --role R… | disable ID | remove ID | invite ID | audit
                                      manage the coordination team's members; read the audit log
  bikfed hub backup --to DIR|s3:      a consistent backup of the hub, taken while it runs
  bikfed hub restore --from DIR|s3:[NAME]
                                      put a backup in place of the stopped hub's state
  bikfed hub register-mirror NAME     register a portal mirror and print its one-time token
  bikfed hub remove-mirror NAME       deregister a mirror; erasures stop waiting for it
  bikfed mirror init --hub URL --token T
                                      enrol this mirror with the hub
  bikfed mirror [serve]               run the mirror: pull the public content, serve the portal
  bikfed node init --hub URL --token T
                                      create keys and enrol this node with the hub
  bikfed node rekey --token T         enrol a new key after rotate-key, keeping the node's data
  bikfed node [serve]                 run the node: admin API, schedules, sync
  bikfed node create|update|delete|get|list|import
                                      author content locally (works offline); --attach FILE
  bikfed node attach FILE...          copy files into the node's blob store, print their references
  bikfed node blob get SHA256 [--out FILE] | blob pending
                                      read an attachment; list attachments still to be fetched
  bikfed node sync                    push and pull now, with a progress bar
  bikfed node status [--json]         pending changes, last push and pull, refusals
  bikfed node member add EMAIL --name NAME --role ROLE [--role ROLE…] [--handle H]
                                      invite a member of this SIC (a youth member needs a handle)
  bikfed node member list | roles ID --role R… | disable ID | remove ID [--erase] | invite ID | audit
                                      manage this SIC's members; read the audit log
  bikfed verify                       compare this node's content with the hub's by digest
  bikfed demo                         a hub and three nodes with sample content and people, synced;
                                      prints each person's one-time sign-in link
  bikfed gossip-keygen                print a new gossip encryption key

With a hub or node server running on the data directory, the one-shot commands
act through its admin API; otherwise they open the database themselves.
  bikfed version

Every command takes --help. Settings come from flags, then BIKFED_* environment
variables, then the JSON file named by --config.
`

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startCPUProfile(os.Getenv(cpuProfileEnv), os.Stderr)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// cpuProfileEnv names a file that receives a CPU profile of the whole
// process, for the benchmarks to see where a real process spends its time.
// It is not a setting: profiling costs a few percent of the CPU.
const cpuProfileEnv = "BIKFED_CPU_PROFILE"

// startCPUProfile starts writing a CPU profile to path, when it is set, and
// returns what stops it; a profile that cannot be written is reported on
// stderr and the command runs without it.
func startCPUProfile(path string, stderr io.Writer) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bikfed: %s: %v\n", cpuProfileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "bikfed: %s: %v\n", cpuProfileEnv, err)
		}
	}
}

// Main runs bikfed with args and returns the process exit code, so tests can
// run commands in-process.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdin, stdout, stderr)
	printPagesRead(stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprint(stderr, usage)
		return 2
	case errors.Is(err, errDifferences):
		return 1
	}
	fmt.Fprintf(stderr, "bikfed: %v\n", err)
	return 1
}

// printPagesRead writes what each database read, when the diagnostic of
// sqlitedb.PageReadsEnv is on, one line per database file, for benchmarks
// and operators checking that a command's cost does not grow with the data.
func printPagesRead(w io.Writer) {
	if os.Getenv(sqlitedb.PageReadsEnv) == "" {
		return
	}
	reads := sqlitedb.PagesRead()
	paths := slices.Sorted(maps.Keys(reads))
	for _, p := range paths {
		fmt.Fprintf(w, "sqlite pages read: %d %s\n", reads[p], p)
	}
}

var (
	errUsage       = errors.New("usage")
	errDifferences = errors.New("differences found")
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	env := &cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "hub":
		return env.hub(ctx, args[1:])
	case "node":
		return env.node(ctx, args[1:])
	case "mirror":
		return env.mirror(ctx, args[1:]) // mirrorcmd.go
	case "verify":
		return env.verify(ctx, args[1:])
	case "demo":
		return env.demo(ctx, args[1:])
	case "gossip-keygen":
		return env.gossipKeygen(args[1:])
	case "version":
		fmt.Fprintln(stdout, "bikfed", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return errUsage
}

// cmdEnv carries the standard streams to every command.
type cmdEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}
