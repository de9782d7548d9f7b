package decisionlog

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/subjects"
)

// benchRecords are distinct, realistic records: granted questions from
// many users on many collections, as the decision-log bench asks them.
func benchRecords(n int) []Record {
	recs := make([]Record, n)
	t0 := time.Now()
	for i := range recs {
		coll := fmt.Sprintf("/shared/org%03d/team%03d/app%04d", i%97, i%389, i*31%5000)
		sub := subjects.OfUser(fmt.Sprintf("user%05d", i*7919%20000))
		grant := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(i*2654435761), i*7%65536, i*13%4096, i*17%4096, i*2654435761*31)
		recs[i] = Record{Time: t0.Add(time.Duration(i) * 37 * time.Microsecond), Latency: time.Duration(900 + i*1013%5000),
			Request: authz.Request{Subject: sub, Operation: "container.view", Collection: coll},
			Decision: authz.Decision{Allowed: true, Code: authz.CodeGranted, Revision: 123456,
				Reason: fmt.Sprintf("%s holds container.view on %s", sub, coll), Collection: coll},
			Grants: []string{grant}, Interface: "grpc", Caller: subjects.OfServiceAccount("bench"),
			Address: addr(fmt.Sprintf("127.0.0.1:%d", 40000+i%64))}
	}
	return recs
}

// BenchmarkEventCost measures the writer's work per decision: encoding an
// event (a new question's, and a repeated one's from the memo), writing it to a file as the file sink does (rotated at the
// default size), and compressing a batch of them as the HTTP sink does.
//
//	go test -run XXX -bench EventCost ./decisionlog
func BenchmarkEventCost(b *testing.B) {
	recs := benchRecords(20000)
	enc := newEncoder(map[string]string{"app": "grantd", "id": "grantd-0"}, mask{})
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		for i := 0; b.Loop(); i++ {
			buf = enc.appendEvent(buf[:0], &recs[i%len(recs)])
		}
		b.SetBytes(int64(len(buf)))
	})
	// A question the decision cache answered before: the input and the
	// result come from the memo.
	b.Run("encode-memo", func(b *testing.B) {
		memoed := slices.Clone(recs)
		var buf []byte
		for i := range memoed {
			memoed[i].Memo = &authz.Memo{}
			buf = enc.appendEvent(buf[:0], &memoed[i])
		}
		for i := 0; b.Loop(); i++ {
			buf = enc.appendEvent(buf[:0], &memoed[i%len(memoed)])
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("file", func(b *testing.B) {
		s, err := newFileSink(filepath.Join(b.TempDir(), "d.jsonl"), DefaultMaxFileBytes, DefaultMaxFiles, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		var buf []byte
		for i := 0; b.Loop(); i++ {
			buf = enc.appendEvent(buf[:0], &recs[i%len(recs)])
			if err := s.write(ctx, buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.close(ctx); err != nil {
			b.Fatal(err)
		}
	})
	// Batches of the default size, as the HTTP sink makes them.
	var batches [][]byte
	var batch []byte
	for i := range recs {
		if len(batch) > DefaultBatchBytes {
			batches, batch = append(batches, batch), nil
		}
		batch = enc.appendEvent(batch, &recs[i])
	}
	batches = append(batches, batch)
	// The sink's compressor: klauspost's, or ISA-L's in a build with the
	// isal tag (go test -tags isal -bench EventCost/gzip ./decisionlog).
	b.Run("gzip", func(b *testing.B) {
		b.Log(Compressor)
		gz := newGzipper()
		var in, size int
		for b.Loop() {
			for _, batch := range batches {
				out, err := gz.gzip(batch)
				if err != nil {
					b.Fatal(err)
				}
				in, size = in+len(batch), size+len(out)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
		b.ReportMetric(float64(in)/float64(b.N*len(recs)), "B/event")
		b.ReportMetric(float64(size)/float64(b.N*len(recs)), "gzB/event")
	})
}
