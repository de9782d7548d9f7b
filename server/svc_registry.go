package server

import (
	"context"
	"time"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// registryService manages the registry token keys.
type registryService struct {
	v1.UnimplementedRegistryServiceServer
	*deps
	issuer, algorithm string
}

func (s *registryService) GetTokenSigning(context.Context, *v1.GetTokenSigningRequest) (*v1.TokenSigning, error) {
	return s.signing()
}

func (s *registryService) RotateTokenSigningKey(ctx context.Context, req *v1.RotateTokenSigningKeyRequest) (*v1.RotateTokenSigningKeyResponse, error) {
	alg := req.GetAlgorithm()
	if alg == "" {
		alg = s.algorithm
	}
	if alg != AlgorithmES256 && alg != AlgorithmRS256 {
		return nil, invalid("algorithm must be ES256 or RS256")
	}
	rev, err := rotateTokenKey(ctx, s.store, alg, s.now(), principalFrom(ctx).Subject())
	if err != nil {
		return nil, err
	}
	out, err := s.signing()
	if err != nil {
		return nil, err
	}
	return &v1.RotateTokenSigningKeyResponse{Signing: out, Revision: rev}, nil
}

func (s *registryService) signing() (*v1.TokenSigning, error) {
	r := s.store.Read()
	root, err := r.KeyMaterial(tokenRootID)
	if err != nil {
		return nil, err
	}
	leaf, err := r.KeyMaterial(tokenSigningID)
	if err != nil {
		return nil, err
	}
	if root == nil || leaf == nil {
		return nil, unavailable("the registry token keys are not created yet")
	}
	cert, _, err := parseKeyPair(leaf)
	if err != nil {
		return nil, err
	}
	return &v1.TokenSigning{RootCertPem: root.CertPEM, SigningCertPem: leaf.CertPEM, Algorithm: tokenAlgorithm(cert),
		SigningNotAfter: cert.NotAfter.UTC().Format(time.RFC3339), Issuer: s.issuer}, nil
}
