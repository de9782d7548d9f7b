package main

// The transport floor: a gRPC server that takes the same Authorize calls
// as grantd, over TLS, with the same bearer metadata and the same stream
// workers, and answers without deciding. Loaded from the same callers in
// the same process as grantd's gRPC steps, it shows how much of grantd's
// latency the transport and the machine take on their own: on 2 cores
// shared with the load generator, 64 callers queue whatever the server
// does.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grantd/grantd/pki"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
	"github.com/grantd/grantd/server"
)

// floorSystem names the floor's rows in the report.
const floorSystem = "transport floor"

// floorArg runs the bench executable as the floor's server.
const floorArg = "transport-floor"

// floorHello is what the floor's server prints once it listens.
type floorHello struct {
	Addr  string `json:"addr"`
	CA    string `json:"ca"`
	Token string `json:"token"`
}

// floorCommand serves the floor when the bench executable was started as
// it, and exits; it returns otherwise.
func floorCommand() {
	if len(os.Args) != 3 || os.Args[1] != floorArg {
		return
	}
	if err := serveFloor(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "bench", floorArg+":", err)
		os.Exit(1)
	}
	os.Exit(0)
}

type floorService struct {
	v1.UnimplementedAuthzServiceServer
	token string
}

// Authorize checks the caller's bearer token, as grantd does before any
// decision, and answers without deciding.
func (f floorService) Authorize(ctx context.Context, _ *v1.AuthorizeRequest) (*v1.AuthorizeResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	got := md.Get("authorization")
	if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte("Bearer "+f.token)) != 1 {
		return nil, status.Error(codes.Unauthenticated, "no session")
	}
	return &v1.AuthorizeResponse{}, nil
}

// serveFloor serves until its standard input closes (the bench stopped or
// died), with TLS material made in dir as grantd makes its own.
func serveFloor(dir string) error {
	files, err := pki.EnsureTLS(dir, "", "", nil)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(files.CA)
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s := grpc.NewServer(grpc.NumStreamWorkers(server.StreamWorkers()),
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	f := floorService{token: hex.EncodeToString(secret)}
	v1.RegisterAuthzServiceServer(s, f)
	hello, _ := json.Marshal(floorHello{Addr: l.Addr().String(), Token: f.token, CA: string(ca)})
	fmt.Println(string(hello))
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString(0)
		s.Stop()
	}()
	return s.Serve(l)
}

// startFloor starts the floor's server as a process of its own, its TLS
// material in dir, and connects to it as the benchmark connects to grantd.
func startFloor(dir string) (*process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, floorArg, dir)
	cmd.Stderr = os.Stderr
	// The pipe, held by cmd until the server exits, closes when the bench
	// dies, and the server stops.
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	go func() { _ = cmd.Wait(); close(p.exited) }()
	var hello floorHello
	if err == nil {
		err = json.Unmarshal([]byte(strings.TrimSpace(line)), &hello)
	}
	var tlsCfg *tls.Config
	if err == nil {
		tlsCfg, err = trustingCA([]byte(hello.CA))
	}
	if err == nil {
		p.addr, p.token = hello.Addr, hello.Token
		p.conn, err = grpc.NewClient(p.addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("the transport floor's server: %w", err)
	}
	return p, nil
}
