package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/internal/loadgc"
	"github.com/grantd/grantd/store"
)

// startupProfile is where a start-up's time and memory go.
type startupProfile struct {
	elapsed  time.Duration
	heap     uint64 // in use after a collection, state loaded
	cpuTop   string
	heapTop  string
	cpuFile  string
	heapFile string
}

// profileStartup opens the restored data directory in process as grantd
// starts (store replayed from its raft snapshot, policy state compiled)
// under a CPU profile, then writes a heap profile of the loaded state.
// The store is closed again before grantd starts on the directory.
func profileStartup(ctx context.Context, dataDir, out string) (*startupProfile, error) {
	p := &startupProfile{cpuFile: filepath.Join(out, "startup.cpu.pprof"), heapFile: filepath.Join(out, "startup.heap.pprof")}
	cpu, err := os.Create(p.cpuFile)
	if err != nil {
		return nil, err
	}
	defer cpu.Close()
	runtime.GC()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return nil, err
	}
	start := time.Now()
	loaded := loadgc.Start() // as cmd/grantd paces the collector
	st, engine, err := openLikeGrantd(ctx, dataDir)
	loaded()
	p.elapsed = time.Since(start)
	pprof.StopCPUProfile()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if !engine.Healthy() {
		return nil, fmt.Errorf("policy state did not compile")
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.heap = ms.HeapInuse
	heap, err := os.Create(p.heapFile)
	if err != nil {
		return nil, err
	}
	defer heap.Close()
	if err := pprof.WriteHeapProfile(heap); err != nil {
		return nil, err
	}
	p.cpuTop = pprofRun("-top", "-cum", "-nodecount=30", p.cpuFile)
	p.heapTop = pprofRun("-top", "-sample_index=inuse_space", "-nodecount=15", p.heapFile)
	return p, nil
}

// openLikeGrantd opens the store with the engine following it, as
// cmd/grantd does, and waits until the state is loaded.
func openLikeGrantd(ctx context.Context, dataDir string) (*store.Store, *authz.Engine, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := authz.New(log)
	if err != nil {
		return nil, nil, err
	}
	cfg := store.DefaultConfig(filepath.Join(dataDir, "raft"))
	cfg.Logger = log
	cfg.Observe, cfg.Preview = engine.Observe, engine.Preview
	st, err := store.Open(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := st.WaitReady(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, engine, nil
}

// pprofRun is go tool pprof's text output (or why there is none).
func pprofRun(args ...string) string {
	out, err := exec.Command("go", append([]string{"tool", "pprof"}, args...)...).Output()
	if err != nil {
		return "(go tool pprof failed: " + err.Error() + ")"
	}
	return string(out)
}
