package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// callTimeout bounds one command's call to the server.
const callTimeout = 60 * time.Second

// run makes one authenticated call and prints its answer: as JSON with
// -o json, else through render as a table or text for people.
func run[T proto.Message](g *globals, cmd *cobra.Command, call func(context.Context, *grpc.ClientConn) (T, error),
	render func(io.Writer, T) error) error {
	return runFor(g, cmd, callTimeout, call, render)
}

// runFor is run with a longer bound, for calls that wait (a sync run).
func runFor[T proto.Message](g *globals, cmd *cobra.Command, timeout time.Duration,
	call func(context.Context, *grpc.ClientConn) (T, error), render func(io.Writer, T) error) error {
	conn, ctx, err := g.connect(cmd.Context())
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := call(ctx, conn)
	if err != nil {
		return explain(err)
	}
	out := cmd.OutOrStdout()
	if g.output == "json" {
		return printJSON(out, resp)
	}
	return render(out, resp)
}

// table writes aligned columns under a header.
type table struct{ w *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(anySlice(header)...)
	return t
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func (t *table) row(cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = cell(c)
	}
	fmt.Fprintln(t.w, strings.Join(parts, "\t"))
}

func (t *table) flush() error { return t.w.Flush() }

// cell renders one value: empty as "-", lists comma-separated, times in UTC.
func cell(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "-"
		}
		return x
	case []string:
		if len(x) == 0 {
			return "-"
		}
		return strings.Join(x, ",")
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case *timestamppb.Timestamp:
		if x == nil {
			return "-"
		}
		return x.AsTime().UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// revisioned is every write response.
type revisioned interface {
	proto.Message
	GetRevision() uint64
}

// write is run for write calls: the answer for people is a confirmation
// line with the revision the write produced.
func write[T revisioned](g *globals, cmd *cobra.Command, call func(context.Context, *grpc.ClientConn) (T, error),
	format string, args ...any) error {
	return run(g, cmd, call, func(w io.Writer, r T) error {
		_, err := fmt.Fprintf(w, format+" (revision %d)\n", append(args, r.GetRevision())...)
		return err
	})
}

// splitRepository splits "namespace/name".
func splitRepository(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	if !ok || namespace == "" || name == "" {
		return "", "", fmt.Errorf("repository %q: want namespace/name", s)
	}
	return namespace, name, nil
}

// pageFlags are the paging flags of list commands.
type pageFlags struct {
	size  int32
	token string
}

func (p *pageFlags) add(cmd *cobra.Command) {
	cmd.Flags().Int32Var(&p.size, "page-size", 0, "how many to list (server default 100, at most 1000)")
	cmd.Flags().StringVar(&p.token, "page-token", "", "continue from the token a previous page printed")
}

// morePages tells how to get the next page, when there is one.
func morePages(w io.Writer, next string) {
	if next != "" {
		fmt.Fprintf(w, "\nMore: --page-token %s\n", next)
	}
}
