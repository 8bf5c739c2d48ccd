package subscription

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// errPrivate refuses a connection to an address endpoints may not have.
var errPrivate = errors.New("the endpoint's address is loopback, private, link-local or unspecified, which subscription_allow_private forbids")

// httpClient is the client notifications go through: no proxy from the
// environment, no redirects followed (a 3xx is a failure, so an endpoint
// cannot send Concord on to another address), and, unless private
// addresses are allowed, every address checked as it is dialled (after
// name resolution, so a name cannot point Concord at an internal
// service).
func (m *Manager) httpClient() *http.Client {
	d := &net.Dialer{Timeout: m.opt.Timeout, KeepAlive: 30 * time.Second}
	if !m.opt.AllowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !public(ap.Addr()) {
				return errPrivate
			}
			return nil
		}
	}
	t := &http.Transport{
		DialContext:            d.DialContext,
		TLSHandshakeTimeout:    m.opt.Timeout,
		ResponseHeaderTimeout:  m.opt.Timeout,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{Transport: t, Timeout: m.opt.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// public reports whether a is an address endpoints may have when private
// ones are not allowed.
func public(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() && !a.IsLinkLocalMulticast() &&
		!a.IsUnspecified() && !a.IsMulticast() && !a.IsInterfaceLocalMulticast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a) // carrier-grade NAT, often internal
}
