package decisionlog

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/subjects"
)

// benchRecords are a thousand realistic, distinct records.
func benchRecords() []Record {
	recs := make([]Record, 1000)
	for i := range recs {
		recs[i] = Record{Time: time.Now(), Latency: time.Duration(i * 1013),
			Request: authz.Request{Subject: subjects.OfUser(fmt.Sprintf("user%05d", i*7919%20000)), Operation: "container.view",
				Collection: fmt.Sprintf("/org%03d/team%03d/app%04d", i%97, i%389, i*31%5000)},
			Decision: authz.Decision{Allowed: true, Code: authz.CodeGranted, Revision: 123456 + uint64(i/100),
				Reason: fmt.Sprintf("user:user%05d holds container.view on /org%03d", i*7919%20000, i%97), Collection: "/x"},
			Grants: []string{fmt.Sprintf("g-%08x", i*2654435761)}, Interface: "grpc", Caller: subjects.OfUser("admin"), Address: addr("127.0.0.1:54321")}
	}
	return recs
}

// BenchmarkEventCost measures the writer's work per decision: encoding an
// event, and compressing it as the HTTP sink does.
//
//	go test -run XXX -bench EventCost ./decisionlog
func BenchmarkEventCost(b *testing.B) {
	recs := benchRecords()
	enc := newEncoder(map[string]string{"app": "grantd", "id": "grantd-0"}, mask{})
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		for i := 0; b.Loop(); i++ {
			buf = enc.appendEvent(buf[:0], &recs[i%len(recs)])
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("encode+gzip", func(b *testing.B) {
		gz, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		var buf []byte
		for i := 0; b.Loop(); i++ {
			buf = enc.appendEvent(buf[:0], &recs[i%len(recs)])
			_, _ = gz.Write(buf)
		}
		_ = gz.Close()
		b.SetBytes(int64(len(buf)))
	})
}
