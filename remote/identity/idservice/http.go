package idservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
)

// maxRequest bounds a request body: two certificates and change.
const maxRequest = 64 << 10

// Handler serves the /v1 contract. It must sit behind a TLS listener that requires and verifies kiosk
// client certificates (see ServerTLSConfig and VerifyConnection): the kiosk id is the certificate's CN,
// which must be a well-formed kiosk id, not the fleet server's identity, and not revoked (checked again on
// every request).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/challenges", s.wrap(func(ctx context.Context, c call, r *http.Request) (any, error) {
		if err := decodeRequest(r.Body, &struct{}{}); err != nil {
			return nil, err
		}
		return s.Challenge(ctx, c)
	}))
	mux.HandleFunc("POST /v1/sessions", s.wrap(func(ctx context.Context, c call, r *http.Request) (any, error) {
		var req identity.StartSessionRequest
		if err := decodeRequest(r.Body, &req); err != nil {
			return nil, err
		}
		return s.StartSession(ctx, c, req)
	}))
	mux.HandleFunc("POST /v1/sessions/{id}/code", s.wrap(func(ctx context.Context, c call, r *http.Request) (any, error) {
		var req identity.SendCodeRequest
		if err := decodeRequest(r.Body, &req); err != nil {
			req.Address.Zero()
			return nil, err
		}
		return s.SendCode(ctx, c, r.PathValue("id"), req)
	}))
	mux.HandleFunc("POST /v1/sessions/{id}/verification", s.wrap(func(ctx context.Context, c call, r *http.Request) (any, error) {
		var req identity.VerifyCodeRequest
		if err := decodeRequest(r.Body, &req); err != nil {
			req.Code.Zero()
			return nil, err
		}
		return s.VerifyCode(ctx, c, r.PathValue("id"), req)
	}))
	mux.HandleFunc("POST /v1/sessions/{id}/completion", s.wrap(func(ctx context.Context, c call, r *http.Request) (any, error) {
		var req identity.CompleteRequest
		if err := decodeRequest(r.Body, &req); err != nil {
			return nil, err
		}
		return nil, s.Complete(ctx, c, r.PathValue("id"), req)
	}))
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rid := requestID(r)
		w.Header().Set(identity.RequestIDHeader, rid)
		writeError(w, rid, refuse(http.StatusNotFound, errcat.ERR1012, errors.New("no such endpoint")))
	})
	return mux
}

// decodeRequest reads exactly one JSON object with only known fields (spelled exactly as in the contract)
// from at most maxRequest bytes. The body is read into one buffer of the largest size, cleared on return,
// and decoded in place with json.Unmarshal (a Secret decodes itself from those bytes): no growing buffer or
// decoder leaves a copy of a code or an address behind.
func decodeRequest(body io.Reader, v any) error {
	buf := make([]byte, maxRequest+1)
	defer clear(buf) // it may hold a code or an address
	n, err := io.ReadFull(body, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return refuse(http.StatusBadRequest, errcat.ERR1012, fmt.Errorf("read request: %w", err))
	}
	if n > maxRequest {
		return refuse(http.StatusRequestEntityTooLarge, errcat.ERR1012, errors.New("request too large"))
	}
	data := buf[:n]
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil { // also refuses data after the object
		return refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("request is not the expected JSON object"))
	}
	known := jsonFields(v)
	unknown := false
	for name, raw := range fields {
		clear(raw) // a copy of the value
		unknown = unknown || !known[name]
	}
	if unknown {
		return refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("request has a field the contract does not name"))
	}
	if err := json.Unmarshal(data, v); err != nil {
		return refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("request is not the expected JSON object"))
	}
	return nil
}

// jsonFields names the JSON fields of the struct v points to, as its json tags spell them.
func jsonFields(v any) map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return out
	}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
		case "":
			out[f.Name] = true
		default:
			out[name] = true
		}
	}
	return out
}

// requestID is the kiosk's request id when it is sane, or a new one.
func requestID(r *http.Request) string {
	id := r.Header.Get(identity.RequestIDHeader)
	if id == "" || len(id) > 64 {
		return identity.NewRequestID()
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return identity.NewRequestID()
		}
	}
	return id
}

// wrap identifies the kiosk and request, runs a step, writes its answer and logs one line.
func (s *Service) wrap(step func(context.Context, call, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := call{RequestID: requestID(r)}
		w.Header().Set(identity.RequestIDHeader, c.RequestID)
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName == "" {
			writeError(w, c.RequestID, refuse(http.StatusUnauthorized, errcat.ERR1012, errors.New("no kiosk certificate")))
			return
		}
		id, kerr := s.kioskID(r.TLS.PeerCertificates[0])
		if kerr != nil {
			status := writeError(w, c.RequestID, refuse(http.StatusForbidden, errcat.ERR1012, kerr))
			s.log.Warn("request", "method", r.Method, "path", r.Pattern, "status", status, "request_id", c.RequestID, "err", kerr)
			return
		}
		c.KioskID = id
		r.Body = http.MaxBytesReader(w, r.Body, maxRequest+1)
		var out any
		var err error
		// Every step takes a JSON body, and application/json is the only media type in the contract.
		if mt, _, perr := mime.ParseMediaType(r.Header.Get("Content-Type")); perr != nil || mt != "application/json" {
			err = refuse(http.StatusUnsupportedMediaType, errcat.ERR1012, errors.New("request is not application/json"))
		} else {
			out, err = step(r.Context(), c, r)
		}
		status := http.StatusOK
		if err != nil {
			status = writeError(w, c.RequestID, err)
		} else if out == nil {
			status = http.StatusNoContent
			w.WriteHeader(status)
		} else {
			var data []byte
			var merr error
			if rel, ok := out.(identity.Release); ok {
				// Built in a byte slice that is cleared below: the SOPIN never passes through a Go string
				// or encoding/json's buffers.
				data = rel.AppendJSON(make([]byte, 0, 64))
				rel.SOPIN.Zero()
			} else {
				data, merr = json.Marshal(out)
			}
			if merr != nil {
				status = writeError(w, c.RequestID, internal(merr))
			} else {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				_, _ = w.Write(append(data, '\n'))
				clear(data)
			}
		}
		level, attrs := slog.LevelInfo, []any{"method", r.Method, "path", r.Pattern, "status", status,
			"kiosk", c.KioskID, "request_id", c.RequestID, "ms", time.Since(start).Milliseconds()}
		if err != nil {
			attrs = append(attrs, "err", err)
			if status >= 500 {
				level = slog.LevelError
			}
		}
		s.log.Log(r.Context(), level, "request", attrs...)
	}
}

// writeError writes the JSON error body for err and returns the status.
func writeError(w http.ResponseWriter, rid string, err error) int {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = internal(err)
	}
	entry, _ := errcat.Lookup(ae.code)
	body := identity.ErrorBody{Code: ae.code, Message: entry.Title, RequestID: rid, AttemptsLeft: ae.attemptsLeft, RetryAfterSeconds: ae.retryAfter}
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	w.WriteHeader(ae.status)
	_, _ = w.Write(append(data, '\n'))
	return ae.status
}
