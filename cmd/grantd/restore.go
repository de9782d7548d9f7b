package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/grantd/grantd/internal/loadgc"
	"github.com/grantd/grantd/store"
)

// runRestore is `grantd restore [--data-dir DIR] SNAPSHOT`: it replaces the
// state in the data directory with a snapshot (a backup, or a generated
// installation such as the benchmarks' reference dataset), while no
// server runs on that directory. It is the bulk path: one raft snapshot
// instead of one log entry per write.
func runRestore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grantd restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./grantd-data", "data directory of the grantd to restore into (it must not be running)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: grantd restore [--data-dir DIR] SNAPSHOT\n\nReplaces the whole state in DIR with SNAPSHOT (the store's snapshot format, JSON lines).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("restore takes one snapshot file")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	cfg := store.DefaultConfig(filepath.Join(*dataDir, "raft"))
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	started := time.Now()
	// The command loads the state it replaces and then the snapshot's:
	// pace the collector as grantd's start-up does.
	defer loadgc.Start()()
	st, err := store.Open(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		_ = st.Close()
		return err
	}
	if err := st.Restore(f); err != nil {
		_ = st.Close()
		return err
	}
	rev := st.Revision()
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s at revision %d in %v\n", fs.Arg(0), *dataDir, rev, time.Since(started).Round(time.Millisecond))
	return nil
}
