// Raft's stream layer: TCP listening on one address and advertising another (raft's own TCP
// transport only advertises IP addresses). It also answers one question of its own on the same
// port, before raft sees the connection: whether this member has Raft state (bootstrap.go asks
// it of every peer before a new group may be bootstrapped).
package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

const (
	// The first byte of a connection that asks for the member's state. Raft's own RPC types are
	// 0 to 3 (net_transport.go).
	stateQueryByte  = 0x53
	firstByteWait   = 10 * time.Second
	stateQueryLimit = 4096
)

// stateAnswer is what a member says about its state.
type stateAnswer struct {
	ID        string `json:"id"`
	HasState  bool   `json:"has_state"`
	LastIndex uint64 `json:"last_index"`
	Term      uint64 `json:"term"`
}

// advertisedAddr is the address peers dial to reach this member: host:port, where host may be
// a DNS name (a Kubernetes pod's stable name), resolved by each peer whenever it dials.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// streamLayer accepts on its listener, answers state queries itself and hands every other
// connection to raft through Accept.
type streamLayer struct {
	listener  net.Listener
	advertise advertisedAddr
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	tlsServer *tls.Config                  // nil: plain TCP
	tlsClient *tls.Config                  // set with tlsServer
	warn      func(string, ...interface{}) // refused connections

	mu     sync.Mutex
	answer func() stateAnswer // guarded by mu; nil until the store is open
}

func (l *streamLayer) Addr() net.Addr { return l.advertise }

func (l *streamLayer) Accept() (net.Conn, error) {
	select {
	case conn := <-l.conns:
		return conn, nil
	case <-l.closed:
		return nil, errors.New("the raft stream layer is closed")
	}
}

func (l *streamLayer) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.listener.Close()
	})
	return nil
}

func (l *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if l.tlsClient == nil {
		return net.DialTimeout("tcp", string(address), timeout)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(address),
		l.tlsClient)
	if err != nil {
		return nil, fmt.Errorf("TLS with %s: %w", address, err)
	}
	return conn, nil
}

func (l *streamLayer) setAnswer(answer func() stateAnswer) {
	l.mu.Lock()
	l.answer = answer
	l.mu.Unlock()
}

func (l *streamLayer) serve() {
	for {
		conn, err := l.listener.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go l.classify(conn)
	}
}

// classify reads the first byte of a connection: a state query is answered here, anything
// else goes to raft with that byte in front.
func (l *streamLayer) classify(conn net.Conn) {
	if l.tlsServer != nil {
		secure := tls.Server(conn, l.tlsServer)
		secure.SetDeadline(time.Now().Add(firstByteWait))
		if err := secure.Handshake(); err != nil {
			if l.warn != nil {
				l.warn("refused a Raft connection from %s: TLS: %v", conn.RemoteAddr(), err)
			}
			conn.Close()
			return
		}
		secure.SetDeadline(time.Time{})
		conn = secure
	}
	conn.SetReadDeadline(time.Now().Add(firstByteWait))
	var first [1]byte
	if _, err := io.ReadFull(conn, first[:]); err != nil {
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	if first[0] == stateQueryByte {
		defer conn.Close()
		l.mu.Lock()
		answer := l.answer
		l.mu.Unlock()
		if answer != nil {
			conn.SetWriteDeadline(time.Now().Add(firstByteWait))
			json.NewEncoder(conn).Encode(answer())
		}
		return
	}
	select {
	case l.conns <- &prefixedConn{Conn: conn, first: first[0]}:
	case <-l.closed:
		conn.Close()
	}
}

// prefixedConn gives back the byte classify read before the rest of the connection.
type prefixedConn struct {
	net.Conn
	first    byte
	consumed bool
}

func (c *prefixedConn) Read(p []byte) (int, error) {
	if c.consumed || len(p) == 0 {
		return c.Conn.Read(p)
	}
	c.consumed = true
	p[0] = c.first
	return 1, nil
}

// queryState asks the member at address whether it has Raft state.
func (l *streamLayer) queryState(address string, timeout time.Duration) (stateAnswer, error) {
	var answer stateAnswer
	conn, err := l.Dial(raft.ServerAddress(address), timeout)
	if err != nil {
		return answer, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte{stateQueryByte}); err != nil {
		return answer, err
	}
	err = json.NewDecoder(io.LimitReader(conn, stateQueryLimit)).Decode(&answer)
	if errors.Is(err, io.EOF) {
		err = errors.New("it is starting (no answer yet)")
	}
	return answer, err
}

// listenTCP binds `bind`; with an empty `advertise` the bound address is advertised, which then
// must not be a wildcard (peers could not dial it).
func listenTCP(bind, advertise string, files tlsFiles,
	warn func(string, ...interface{})) (*streamLayer, error) {
	tlsServer, tlsClient, err := loadTLS(files)
	if err != nil {
		return nil, err
	}
	if advertise != "" {
		host, port, err := net.SplitHostPort(advertise)
		if err != nil || host == "" || port == "" || port == "0" {
			return nil, invalidf("advertise address %q is not host:port with a port", advertise)
		}
	}
	listener, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == "" {
		bound := listener.Addr().(*net.TCPAddr)
		if bound.IP.IsUnspecified() {
			listener.Close()
			return nil, invalidf("raft address %q binds every interface; give the address "+
				"peers dial (advertise)", bind)
		}
		advertise = bound.String()
	}
	layer := &streamLayer{listener: listener, advertise: advertisedAddr(advertise),
		conns: make(chan net.Conn), closed: make(chan struct{}), tlsServer: tlsServer,
		tlsClient: tlsClient, warn: warn}
	go layer.serve()
	return layer, nil
}
