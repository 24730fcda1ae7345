// Command bikfed-bench measures bikfed's sync path against baselines taken in
// the same run on the same machine, and writes docs/benchmarks.md. Figures are
// ratios to those baselines because the machines it runs on are shared and noisy.
//
// It starts the real bikfed binary as hub and node processes on loopback;
// the community section times the node's community calls on a database
// file of the target size, through a test of package node that it runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	var cfg benchConfig
	flag.StringVar(&cfg.bin, "bin", "bin/bikfed", "the bikfed binary to measure")
	flag.StringVar(&cfg.out, "out", "docs/benchmarks.md", "where to write the report ('-' for standard output)")
	flag.IntVar(&cfg.entities, "entities", 100_000, "size of the aggregate")
	flag.IntVar(&cfg.batch, "batch", 1000, "changes per push")
	flag.IntVar(&cfg.rounds, "rounds", 300, "idle sync rounds to time")
	flag.Int64Var(&cfg.blobSize, "blob-size", 1<<30, "bytes of the attachment uploaded node→hub→MinIO (0: skip)")
	flag.BoolVar(&cfg.blobsOnly, "blobs-only", false, "run only the attachment benchmark and print it")
	flag.BoolVar(&cfg.propagation, "propagation", false, "run only the propagation benchmark and print its section (the report file is left alone)")
	flag.BoolVar(&cfg.syncOnly, "sync", false, "run only the sync benchmarks (apply, pull, idle rounds, memory) and print their section (the report file is left alone)")
	flag.BoolVar(&cfg.portalOnly, "portal", false, "run only the portal benchmark and print its section (the report file is left alone)")
	flag.BoolVar(&cfg.communityOnly, "community", false, "run only the community benchmark, print its section and put it in place of its section of the report file, leaving the others as they are")
	flag.StringVar(&cfg.goCmd, "go", "go", "the go command, which builds and runs the community benchmark (a test of package node)")
	flag.BoolVar(&cfg.e2eOnly, "e2e", false, "run only the end-to-end benchmark (node A → hub → node B, real processes), print its section and put it in place of its section of the report file")
	cfg.network = networkDefaults()
	flag.BoolVar(&cfg.networkOnly, "network", false, "run only the network benchmark (simulated nodes, public load through Caddy and mirrors), print its section and put it in place of its section of the report file")
	flag.IntVar(&cfg.network.nodes, "nodes", cfg.network.nodes, "network benchmark: simulated nodes")
	flag.IntVar(&cfg.network.publicConns, "public-conns", cfg.network.publicConns, "network benchmark: visitors' concurrent connections")
	flag.DurationVar(&cfg.network.traffic.pushEvery, "push-every", cfg.network.traffic.pushEvery, "network benchmark: a node's mean time between pushes")
	publicLoad := flag.String("public-load", "", "public load process mode of the network benchmark: run the load FILE describes and print the figures as JSON")
	load := loadFlags()
	flag.Parse()
	// -duration is the load generator's and the network benchmark's; the
	// network's default is its own.
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "duration" {
			cfg.network.duration = load.duration
		}
	})
	if *publicLoad != "" {
		if err := runPublicLoad(*publicLoad); err != nil {
			fmt.Fprintln(os.Stderr, "bikfed-bench -public-load:", err)
			os.Exit(1)
		}
		return
	}
	if err := cfg.network.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bikfed-bench:", err)
		os.Exit(2)
	}
	// The load comes from one loopback address, which the hub's per-address
	// rate limits would throttle; the benchmarks measure the hub, not them.
	os.Setenv("BIKFED_PUBLIC_RATE", "0")
	os.Setenv("BIKFED_SIGN_IN_RATE", "0")
	if load.url != "" {
		if err := runLoad(load); err != nil {
			fmt.Fprintln(os.Stderr, "bikfed-bench -load:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bikfed-bench:", err)
		os.Exit(1)
	}
}

type benchConfig struct {
	bin       string
	out       string
	entities  int
	batch     int
	rounds    int
	blobSize  int64
	blobsOnly bool
	// propagation runs only the propagation benchmark (propagation.go).
	propagation bool
	// portalOnly runs only the portal benchmark (portal.go).
	portalOnly bool
	// syncOnly runs only the sync benchmarks (sync.go).
	syncOnly bool
	// communityOnly runs only the community benchmark (community.go),
	// and goCmd is the go command it runs.
	communityOnly bool
	goCmd         string
	// e2eOnly runs only the end-to-end benchmark (e2e.go).
	e2eOnly bool
	// networkOnly runs only the network benchmark (network.go), with network's settings.
	networkOnly bool
	network     networkConfig
}

func run(ctx context.Context, cfg benchConfig) error {
	bin, err := filepath.Abs(cfg.bin)
	if err != nil {
		return err
	}
	cfg.bin = bin
	dir, err := os.MkdirTemp("", "bikfed-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.propagation {
		prop, err := benchPropagation(ctx, cfg, dir)
		if err == nil {
			fmt.Print(prop.markdown())
		}
		return err
	}
	if cfg.blobsOnly {
		b, err := benchBlobs(ctx, cfg, dir)
		if err == nil {
			fmt.Print(b.markdown())
		}
		return err
	}
	if cfg.communityOnly {
		c, err := benchCommunity(ctx, cfg, dir)
		if err != nil {
			return err
		}
		return writeSection(cfg.out, c.markdown())
	}
	if cfg.e2eOnly {
		e, err := benchE2E(ctx, cfg, dir)
		if err != nil {
			return err
		}
		return writeSection(cfg.out, e.markdown())
	}
	if cfg.networkOnly {
		n, err := benchNetwork(ctx, cfg, dir)
		if err != nil {
			return err
		}
		return writeSection(cfg.out, n.markdown())
	}
	if cfg.portalOnly {
		p, err := benchPortal(ctx, cfg, dir)
		if err == nil {
			fmt.Print(p.markdown())
		}
		return err
	}
	rep := &report{started: time.Now(), cfg: cfg}
	if cfg.syncOnly {
		err := benchSync(ctx, cfg, dir, rep)
		if err == nil {
			fmt.Print(rep.markdown())
		}
		return err
	}
	// Each section is written out as soon as it is measured, so a section that
	// fails still leaves the figures of the ones before it.
	var text string
	emit := func(section string) error {
		text += section
		fmt.Print(section)
		if cfg.out == "-" {
			return nil
		}
		return os.WriteFile(cfg.out, []byte(text), 0o644)
	}
	if err := benchSync(ctx, cfg, dir, rep); err != nil {
		return err
	}
	if err := emit(rep.markdown()); err != nil {
		return err
	}
	e2e, err := benchE2E(ctx, cfg, dir)
	if err != nil {
		return err
	}
	if err := emit(e2e.markdown()); err != nil {
		return err
	}
	blobs, err := benchBlobs(ctx, cfg, dir)
	if err != nil {
		return fmt.Errorf("attachments: %w", err)
	}
	if err := emit(blobs.markdown()); err != nil {
		return err
	}
	prop, err := benchPropagation(ctx, cfg, dir)
	if err != nil {
		return err
	}
	if err := emit(prop.markdown()); err != nil {
		return err
	}
	portal, err := benchPortal(ctx, cfg, dir)
	if err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	if err := emit(portal.markdown()); err != nil {
		return err
	}
	community, err := benchCommunity(ctx, cfg, dir)
	if err != nil {
		return err
	}
	if err := emit(community.markdown()); err != nil {
		return err
	}
	network, err := benchNetwork(ctx, cfg, dir)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	return emit(network.markdown())
}

// writeSection prints section and puts it in place of its section of the
// report file out, leaving the others as they are.
func writeSection(out, section string) error {
	fmt.Print(section)
	if out == "-" {
		return nil
	}
	old, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	return os.WriteFile(out, []byte(replaceSection(string(old), section)), 0o644)
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s %s/%s", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
