// Package awsapi is privlink's AWS wire front door: it authenticates every
// request with SigV4, routes it by the credential scope's service and the
// Action parameter, decodes Query parameters, and renders responses and
// errors in the XML shapes of EC2 and the awsquery services. It holds no
// business rules; handlers call controlplane.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/awsapi/sigv4"
	"github.com/privlink/privlink/internal/cloud"
)

// MaxBodyBytes bounds a request body; policies are at most tens of KiB.
const MaxBodyBytes = 2 << 20

// Request is a decoded, authenticated API call.
type Request struct {
	Service   string
	Action    string
	Params    Params
	Caller    *cloud.Principal
	Region    string
	RequestID string
	SourceIP  string
	// Secure reports whether the request arrived over TLS.
	Secure bool
	// Network is where the request entered a modelled network (a VPC
	// endpoint, or the stand-in internet); zero for host clients. The same
	// value rides in the handler's context (cloud.NetworkFrom), which is how
	// the authorizer sees it.
	Network cloud.NetworkContext
}

// Handler serves one action. It returns the response body (a struct that
// encodes as XML; nil for an empty body) or an error, preferably *cloud.Error.
type Handler func(ctx context.Context, r *Request) (any, error)

// Service is one AWS API served by privlink.
type Service struct {
	// Name is the SigV4 signing name (ec2, elasticloadbalancing, iam, sts).
	Name     string
	Protocol Protocol
	Xmlns    string
	// Global services (IAM, STS) accept a credential scope of any region.
	Global  bool
	Actions map[string]Handler
	// Raw, when set, serves every request of a REST service (Route 53's
	// REST-XML), whose operation is chosen by method and path, not by an
	// Action parameter. Errors are rendered in Protocol's error shape.
	Raw RawHandler
}

// RawRequest is an authenticated request for a Service's Raw handler.
type RawRequest struct {
	HTTP      *http.Request
	Body      []byte
	Caller    *cloud.Principal
	Region    string
	RequestID string
	SourceIP  string
}

// RawHandler serves one REST request: it returns the HTTP status, headers
// to add and the XML body, or an error (preferably *cloud.Error).
type RawHandler func(ctx context.Context, r *RawRequest) (status int, header http.Header, body []byte, err error)

// Authenticator resolves the access key of a parsed signature.
type Authenticator interface {
	// Authenticate returns the secret to verify the signature with and the
	// principal it authenticates. Errors are cloud.ErrUnknownAccessKey or
	// cloud.ErrExpiredToken.
	Authenticate(ctx context.Context, accessKeyID, sessionToken string, now time.Time) (secret string, p *cloud.Principal, err error)
}

// Server is the HTTP handler for every service.
type Server struct {
	auth     Authenticator
	services map[string]*Service
	regions  map[string]bool
	log      *slog.Logger
	now      func() time.Time
}

// NewServer builds the front door for services, accepting credential scopes
// in regions.
func NewServer(auth Authenticator, regions []string, log *slog.Logger, services ...*Service) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{auth: auth, services: map[string]*Service{}, regions: map[string]bool{}, log: log, now: time.Now}
	for _, r := range regions {
		s.regions[r] = true
	}
	for _, svc := range services {
		s.services[svc.Name] = svc
	}
	return s
}

// SetClock replaces the clock (tests).
func (s *Server) SetClock(now func() time.Time) { s.now = now }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	if r.URL.Path == "/_privlink/health" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	sig, sigErr := sigv4.Parse(r)
	// Pick the service before authenticating, so errors take its shape.
	svc := s.services["ec2"]
	if sigErr == nil {
		if found, ok := s.services[sig.Credential.Service]; ok {
			svc = found
		} else {
			s.writeError(w, svc, requestID, &cloud.Error{Code: "InvalidAction", Message: fmt.Sprintf("The service '%s' is not served by privlink.", sig.Credential.Service), Status: 400})
			return
		}
	}
	if svc == nil {
		http.Error(w, "no services", http.StatusInternalServerError)
		return
	}
	if len(body) > MaxBodyBytes {
		s.writeError(w, svc, requestID, &cloud.Error{Code: "RequestEntityTooLarge", Message: "Request body exceeds 2 MiB.", Status: 413})
		return
	}
	caller, err := s.authenticate(r, body, sig, sigErr, svc)
	if err != nil {
		s.writeError(w, svc, requestID, err)
		return
	}
	if svc.Raw != nil {
		s.serveRaw(w, svc, &RawRequest{HTTP: r, Body: body, Caller: caller, Region: sig.Credential.Region, RequestID: requestID, SourceIP: remoteIP(r)})
		return
	}
	values, perr := url.ParseQuery(string(body))
	if perr != nil {
		s.writeError(w, svc, requestID, cloud.Errorf("MalformedQueryString", "The request body is not a valid form encoding: %v", perr))
		return
	}
	for k, v := range r.URL.Query() {
		if !strings.HasPrefix(k, "X-Amz-") {
			if _, dup := values[k]; !dup {
				values[k] = v
			}
		}
	}
	params := ParseParams(values)
	action := params.Get("Action")
	if action == "" {
		s.writeError(w, svc, requestID, cloud.MissingParameter("Action"))
		return
	}
	h, ok := svc.Actions[action]
	if !ok {
		s.writeError(w, svc, requestID, cloud.Errorf("InvalidAction", "The action %s is not valid for this web service.", action))
		return
	}
	req := &Request{
		Service: svc.Name, Action: action, Params: params, Caller: caller,
		Region: sig.Credential.Region, RequestID: requestID, SourceIP: remoteIP(r), Secure: r.TLS != nil,
	}
	if n, ok := cloud.NetworkFrom(r.Context()); ok {
		req.Network = n
		if n.SourceIP.IsValid() {
			req.SourceIP = n.SourceIP.Unmap().String()
		}
	}
	start := time.Now()
	out, err := s.call(r.Context(), h, req)
	if err != nil {
		s.log.Debug("api call failed", "service", svc.Name, "action", action, "err", err, "took", time.Since(start))
		s.writeError(w, svc, requestID, err)
		return
	}
	data, err := EncodeResponse(svc.Protocol, svc.Xmlns, action, requestID, out)
	if err != nil {
		s.log.Error("encode response", "action", action, "err", err)
		s.writeError(w, svc, requestID, err)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", requestID)
	// A length lets clients read large answers without chunked framing.
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// call runs h, turning a panic into an InternalError so no input crashes the server.
func (s *Server) call(ctx context.Context, h Handler, req *Request) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic", "action", req.Action, "panic", p, "stack", string(debug.Stack()))
			out, err = nil, &cloud.Error{Code: "InternalError", Message: "An internal error has occurred.", Status: 500}
		}
	}()
	return h(ctx, req)
}

// serveRaw runs a REST service's handler, turning a panic into an
// InternalError.
func (s *Server) serveRaw(w http.ResponseWriter, svc *Service, req *RawRequest) {
	status, header, body, err := func() (status int, header http.Header, body []byte, err error) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panic", "service", svc.Name, "path", req.HTTP.URL.Path, "panic", p, "stack", string(debug.Stack()))
				err = &cloud.Error{Code: "InternalError", Message: "An internal error has occurred.", Status: 500}
			}
		}()
		return svc.Raw(req.HTTP.Context(), req)
	}()
	if err != nil {
		s.log.Debug("api call failed", "service", svc.Name, "method", req.HTTP.Method, "path", req.HTTP.URL.Path, "err", err)
		s.writeError(w, svc, req.RequestID, err)
		return
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", req.RequestID)
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) authenticate(r *http.Request, body []byte, sig *sigv4.Signature, sigErr error, svc *Service) (*cloud.Principal, error) {
	ec2 := svc.Protocol == ProtocolEC2
	fail := func(ec2Code, code, msg string, status int) error {
		if ec2 {
			return &cloud.Error{Code: ec2Code, Message: msg, Status: status}
		}
		return &cloud.Error{Code: code, Message: msg, Status: 403}
	}
	switch {
	case errors.Is(sigErr, sigv4.ErrMissing):
		return nil, fail("AuthFailure", "MissingAuthenticationToken", "Request is missing Authentication Token", 401)
	case sigErr != nil:
		return nil, fail("AuthFailure", "IncompleteSignature", sigErr.Error(), 401)
	}
	if !svc.Global && !s.regions[sig.Credential.Region] {
		return nil, fail("AuthFailure", "SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", sig.Credential.Region), 401)
	}
	now := s.now()
	secret, p, err := s.auth.Authenticate(r.Context(), sig.Credential.AccessKeyID, sig.SecurityToken, now)
	switch {
	case errors.Is(err, cloud.ErrUnknownAccessKey):
		return nil, fail("AuthFailure", "InvalidClientTokenId", "The security token included in the request is invalid.", 401)
	case errors.Is(err, cloud.ErrExpiredToken):
		if ec2 {
			return nil, &cloud.Error{Code: "RequestExpired", Message: "Request has expired.", Status: 400}
		}
		return nil, &cloud.Error{Code: "ExpiredToken", Message: "The security token included in the request is expired", Status: 400}
	case err != nil:
		return nil, fmt.Errorf("awsapi: authenticate: %w", err)
	}
	switch err := sigv4.Verify(r, body, sig, secret, now); {
	case errors.Is(err, sigv4.ErrExpired):
		if ec2 {
			return nil, &cloud.Error{Code: "RequestExpired", Message: "Request has expired. " + err.Error(), Status: 400}
		}
		return nil, &cloud.Error{Code: "SignatureDoesNotMatch", Message: "Signature expired: " + err.Error(), Status: 403}
	case err != nil:
		return nil, fail("AuthFailure", "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.", 401)
	}
	return p, nil
}

func (s *Server) writeError(w http.ResponseWriter, svc *Service, requestID string, err error) {
	e, ok := cloud.AsError(err)
	if !ok {
		s.log.Error("internal error", "err", err)
		e = &cloud.Error{Code: "InternalError", Message: "An internal error has occurred.", Status: 500}
	}
	status := e.Status
	if status == 0 {
		status = 400
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	w.Write(EncodeError(svc.Protocol, svc.Xmlns, e.Code, e.Message, requestID, status < 500))
}

func remoteIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

func newRequestID() string {
	t := cloud.RandomToken(32)
	return t[0:8] + "-" + t[8:12] + "-" + t[12:16] + "-" + t[16:20] + "-" + t[20:32]
}
