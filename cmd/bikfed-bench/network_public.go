package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"sync"
	"time"
)

// The public side of the network benchmark: visitors' closed-loop requests
// for a mix of portal pages, from a second process (bikfed-bench
// -public-load FILE) so that the load does not share the simulated nodes'
// scheduler and heap.

// publicLoadSpec is what the load process is told to do.
type publicLoadSpec struct {
	Base     string         `json:"base"`
	Conns    int            `json:"conns"`
	Duration time.Duration  `json:"duration"`
	Mix      []publicTarget `json:"mix"`
}

// publicTarget is one kind of page, its share of the requests, and the
// addresses of that kind a visitor asks for (one drawn at random each time).
type publicTarget struct {
	Kind   string   `json:"kind"`
	Weight int      `json:"weight"`
	Paths  []string `json:"paths"`
}

// publicKind is the load process's figures for one kind of page.
type publicKind struct {
	N      int           `json:"n"`
	Errors int           `json:"errors"`
	P50    time.Duration `json:"p50"`
	P99    time.Duration `json:"p99"`
	Max    time.Duration `json:"max"`
	// FirstError is the first failure's description, to say why.
	FirstError string `json:"first_error,omitempty"`
}

// publicResult is what the load process prints.
type publicResult struct {
	Requests int            `json:"requests"`
	Errors   int            `json:"errors"`
	Bytes    int64          `json:"bytes"`
	Seconds  float64        `json:"seconds"`
	Status   map[string]int `json:"status"`
	// P50 and P99 are over every kind of page.
	P50   time.Duration         `json:"p50"`
	P99   time.Duration         `json:"p99"`
	Kinds map[string]publicKind `json:"kinds"`
}

func (r publicResult) rate() float64 {
	if r.Seconds == 0 {
		return 0
	}
	return float64(r.Requests) / r.Seconds
}

// pick draws a target by weight; u is uniform in [0, total weight).
func pick(mix []publicTarget, u int) *publicTarget {
	for i := range mix {
		if u < mix[i].Weight {
			return &mix[i]
		}
		u -= mix[i].Weight
	}
	return &mix[len(mix)-1]
}

func totalWeight(mix []publicTarget) int {
	w := 0
	for _, t := range mix {
		w += t.Weight
	}
	return w
}

// runPublicLoad is the load process: each connection requests a page,
// reads it to the end, and asks for the next, until the duration is over.
// Anything but a 200 is an error. Compression is accepted, as browsers do.
func runPublicLoad(specFile string) error {
	b, err := os.ReadFile(specFile)
	if err != nil {
		return err
	}
	var spec publicLoadSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	if len(spec.Mix) == 0 || spec.Conns < 1 {
		return fmt.Errorf("public load: nothing to request")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: spec.Conns, MaxConnsPerHost: spec.Conns}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	weight := totalWeight(spec.Mix)
	type sample struct {
		times  []time.Duration
		errors int
		first  string
	}
	var mu sync.Mutex
	res := publicResult{Status: map[string]int{}, Kinds: map[string]publicKind{}}
	all := map[string]*sample{}
	deadline := time.Now().Add(spec.Duration)
	t0 := time.Now()
	var wg sync.WaitGroup
	for c := range spec.Conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 15))
			local := map[string]*sample{}
			status := map[string]int{}
			var bytes int64
			for time.Now().Before(deadline) {
				t := pick(spec.Mix, rng.IntN(weight))
				s := local[t.Kind]
				if s == nil {
					s = &sample{}
					local[t.Kind] = s
				}
				start := time.Now()
				resp, err := client.Get(spec.Base + t.Paths[rng.IntN(len(t.Paths))])
				if err == nil {
					var n int64
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					bytes += n
					status[fmt.Sprint(resp.StatusCode)]++
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", resp.Request.URL.Path, resp.Status)
					}
				}
				if err != nil {
					s.errors++
					if s.first == "" {
						s.first = err.Error()
					}
					continue
				}
				s.times = append(s.times, time.Since(start))
			}
			mu.Lock()
			defer mu.Unlock()
			res.Bytes += bytes
			for k, v := range status {
				res.Status[k] += v
			}
			for k, s := range local {
				a := all[k]
				if a == nil {
					a = &sample{}
					all[k] = a
				}
				a.times = append(a.times, s.times...)
				a.errors += s.errors
				if a.first == "" {
					a.first = s.first
				}
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()
	var every []time.Duration
	for k, s := range all {
		every = append(every, s.times...)
		pk := publicKind{N: len(s.times), Errors: s.errors, FirstError: s.first}
		if len(s.times) > 0 {
			l := latencyOf(s.times)
			pk.P50, pk.P99, pk.Max = l.p50, l.p99, l.max
		}
		res.Kinds[k] = pk
		res.Requests += pk.N
		res.Errors += pk.Errors
	}
	if len(every) > 0 {
		l := latencyOf(every)
		res.P50, res.P99 = l.p50, l.p99
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// runPublicLoadProcess runs the load process with spec and returns its
// figures and the CPU time it took.
func runPublicLoadProcess(ctx context.Context, self, dir string, spec publicLoadSpec) (publicResult, time.Duration, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return publicResult{}, 0, err
	}
	f, err := os.CreateTemp(dir, "public-load-*.json")
	if err != nil {
		return publicResult{}, 0, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return publicResult{}, 0, err
	}
	f.Close()
	cmd := exec.CommandContext(ctx, self, "-public-load", f.Name())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return publicResult{}, 0, fmt.Errorf("public load: %w", err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var res publicResult
	if err := json.Unmarshal(out, &res); err != nil {
		return publicResult{}, 0, fmt.Errorf("public load: %w", err)
	}
	return res, cpu, nil
}

// kindsInOrder lists a result's kinds in the mix's order.
func kindsInOrder(mix []publicTarget) []string {
	kinds := make([]string, 0, len(mix))
	for _, t := range mix {
		kinds = append(kinds, t.Kind)
	}
	return kinds
}

// sortedKeys is for printing a map's figures in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
