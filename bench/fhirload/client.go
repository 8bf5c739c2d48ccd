package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"
)

// client talks to the FHIR base URL with a bearer token.
type client struct {
	base  string // e.g. http://127.0.0.1:8080/fhir, no trailing slash
	token string
	pid   int // the server's process id, 0 if unknown
	http  *http.Client
}

func newClient(base, token string, pid, conns int) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &client{
		base:  strings.TrimRight(base, "/"),
		token: token,
		pid:   pid,
		http:  &http.Client{Transport: tr, Timeout: 5 * time.Minute},
	}
}

// request builds a request for base + path.
func (c *client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/fhir+json")
	return req, nil
}

// get fetches base + path and returns the status and body.
func (c *client) get(ctx context.Context, path string, header ...string) (int, []byte, error) {
	req, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}
