package connmux

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// preface opens every HTTP/2 connection (RFC 9113 section 3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// HTTP/2 frame types and flags the sniffer reads (RFC 9113 section 6).
const (
	frameHeaders      = 0x1
	frameSettings     = 0x4
	frameContinuation = 0x9

	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	frameHeaderLen = 9
	// maxFrameLen is the largest frame a client may send before the server
	// has announced a larger SETTINGS_MAX_FRAME_SIZE.
	maxFrameLen = 1 << 14
	// maxSniffFrames and maxHeaderBlock bound what is read before deciding;
	// a connection past them goes to HTTP, whose server judges it.
	maxSniffFrames = 16
	maxHeaderBlock = 64 << 10
)

// emptySettings is the server's connection preface sent while sniffing:
// some clients (grpc-java) send no request before they see it. The
// client's acknowledgement of it is dropped before the real server reads,
// which would otherwise see an acknowledgement of settings it never sent.
var emptySettings = []byte{0, 0, 0, frameSettings, 0, 0, 0, 0, 0}

// sniffed is what sniff learnt of a connection.
type sniffed struct {
	// read is every byte read, to be replayed to the server (minus the
	// client's acknowledgement of emptySettings).
	read []byte
	// grpc is true when the first request has a gRPC content type.
	grpc bool
	// dropAck is true while the client's acknowledgement of emptySettings
	// is still to be dropped from what follows read.
	dropAck bool
}

// sniff reads the start of a connection: anything but the HTTP/2 preface
// is HTTP/1.x (decided at the first byte that differs, so a short request
// does not wait); after the preface, frames up to the first complete
// HEADERS block.
func sniff(rw io.ReadWriter) (sniffed, error) {
	s := sniffed{}
	buf := make([]byte, len(preface))
	for n := 0; n < len(preface); {
		k, err := rw.Read(buf[n:])
		if k > 0 && !strings.HasPrefix(preface, string(buf[:n+k])) {
			s.read = buf[:n+k]
			return s, nil
		}
		n += k
		if err != nil {
			return s, err
		}
	}
	s.read, s.dropAck = buf, true
	if _, err := rw.Write(emptySettings); err != nil {
		return s, err
	}
	var err error
	s.grpc, err = s.readHeaders(rw)
	return s, err
}

// readHeaders reads frames until the first HEADERS block is complete and
// reports whether its content type is gRPC. Frames that exceed the
// bounds, or a malformed block, end the sniff with grpc false.
func (s *sniffed) readHeaders(r io.Reader) (bool, error) {
	var block []byte
	for range maxSniffFrames {
		hdr, payload, err := readFrame(r)
		if err != nil {
			return false, err
		}
		if payload == nil {
			// The rest of this frame is still unread: the stream is no
			// longer at a frame boundary, so stop looking for the ack.
			s.read, s.dropAck = append(s.read, hdr...), false
			return false, nil
		}
		if s.dropAck && isSettingsAck(hdr, payload) {
			s.dropAck = false
			continue
		}
		typ, flags := hdr[3], hdr[4]
		s.read = append(append(s.read, hdr...), payload...)
		switch {
		case typ == frameHeaders:
			frag, ok := headerFragment(flags, payload)
			if !ok {
				return false, nil
			}
			block = frag
		case typ == frameContinuation && block != nil:
			block = append(block, payload...)
		default:
			continue
		}
		if len(block) > maxHeaderBlock {
			return false, nil
		}
		if flags&flagEndHeaders != 0 {
			return isGRPC(block), nil
		}
	}
	return false, nil
}

// readFrame reads one frame; a frame longer than maxFrameLen is returned
// as its header alone with a nil payload.
func readFrame(r io.Reader) (hdr, payload []byte, err error) {
	hdr = make([]byte, frameHeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, nil, err
	}
	n := int(binary.BigEndian.Uint32(append([]byte{0}, hdr[:3]...)))
	if n > maxFrameLen {
		return hdr, nil, nil
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, nil, err
	}
	return hdr, payload, nil
}

func isSettingsAck(hdr, payload []byte) bool {
	return hdr[3] == frameSettings && hdr[4]&flagAck != 0 && len(payload) == 0
}

// headerFragment strips a HEADERS frame's padding and priority fields.
func headerFragment(flags byte, p []byte) ([]byte, bool) {
	pad := 0
	if flags&flagPadded != 0 {
		if len(p) < 1 {
			return nil, false
		}
		pad, p = int(p[0]), p[1:]
	}
	if flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, false
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, false
	}
	return bytes.Clone(p[:len(p)-pad]), true
}

// isGRPC decodes a header block and reports whether its content type is
// application/grpc (or one of its +suffix and ;parameter forms).
func isGRPC(block []byte) bool {
	dec := hpack.NewDecoder(4096, nil)
	dec.SetMaxStringLength(maxHeaderBlock)
	fields, err := dec.DecodeFull(block)
	if err != nil {
		return false
	}
	for _, f := range fields {
		if f.Name != "content-type" {
			continue
		}
		ct := strings.ToLower(f.Value)
		rest, ok := strings.CutPrefix(ct, "application/grpc")
		return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
	}
	return false
}

// replayConn gives the server the bytes sniff read, then the
// connection's; while dropAck is set it drops the client's first SETTINGS
// acknowledgement from the stream.
type replayConn struct {
	net.Conn
	pending []byte
	dropAck bool
	// out is the rest of a frame read while looking for the acknowledgement.
	out []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	for len(c.out) == 0 && c.dropAck {
		hdr, payload, err := readFrame(c.Conn)
		if err != nil {
			return 0, err
		}
		switch {
		case payload == nil:
			// Too long for this point of the connection: pass it on
			// and stop looking; the server refuses the frame.
			c.dropAck, c.out = false, hdr
		case isSettingsAck(hdr, payload):
			c.dropAck = false
		default:
			c.out = append(hdr, payload...)
		}
	}
	if len(c.out) > 0 {
		n := copy(p, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
