package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// inprocConn is a grpc.ClientConnInterface that calls registered service
// implementations directly, through the same unary interceptor as the
// network server. The REST gateway uses it, so REST and gRPC share one
// authentication and error path without a loopback connection.
type inprocConn struct {
	interceptor grpc.UnaryServerInterceptor
	methods     map[string]inprocMethod
}

type inprocMethod struct {
	impl    any
	handler grpc.MethodHandler
}

var _ grpc.ClientConnInterface = (*inprocConn)(nil)

func newInprocConn(interceptor grpc.UnaryServerInterceptor) *inprocConn {
	return &inprocConn{interceptor: interceptor, methods: map[string]inprocMethod{}}
}

// RegisterService records the unary methods of a service.
func (c *inprocConn) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = inprocMethod{impl: impl, handler: m.Handler}
	}
}

// Invoke runs a unary method in process. The caller's outgoing metadata
// becomes the handler's incoming metadata, and the HTTP client address
// (put in the context by the HTTP layer) becomes the gRPC peer.
func (c *inprocConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "method %s is not implemented", method)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = withHTTPPeer(ctx)
	stream := &inprocStream{method: method}
	ctx = grpc.NewContextWithServerTransportStream(ctx, stream)
	dec := func(in any) error {
		proto.Merge(in.(proto.Message), args.(proto.Message))
		return nil
	}
	resp, err := m.handler(m.impl, ctx, dec, c.interceptor)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = stream.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = stream.trailer
		}
	}
	if err != nil {
		return err
	}
	proto.Reset(reply.(proto.Message))
	proto.Merge(reply.(proto.Message), resp.(proto.Message))
	return nil
}

// NewStream is not supported: the API has no streaming methods.
func (c *inprocConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "streaming is not supported in process")
}

// inprocStream lets handlers call grpc.Method, grpc.SetHeader and
// grpc.SetTrailer in process as they would over the network.
type inprocStream struct {
	method          string
	header, trailer metadata.MD
}

func (s *inprocStream) Method() string { return s.method }

func (s *inprocStream) SetHeader(md metadata.MD) error {
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *inprocStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *inprocStream) SetTrailer(md metadata.MD) error {
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

// withHTTPPeer turns the HTTP client address the routes recorded into the
// gRPC peer that clientAddr reads.
func withHTTPPeer(ctx context.Context) context.Context {
	if c := callFactsOf(ctx); c != nil {
		return peer.NewContext(ctx, &peer.Peer{Addr: c.addr})
	}
	return ctx
}

// registrar registers a service on every server it holds.
type registrar []grpc.ServiceRegistrar

func (r registrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, s := range r {
		s.RegisterService(desc, impl)
	}
}
