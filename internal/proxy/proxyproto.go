package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// PROXY protocol v2 constants (haproxy proxy-protocol.txt, section 2.2) and the
// AWS extension that Network Load Balancers use for PrivateLink.
const (
	// TLVTypeAWS is PP2_TYPE_AWS, the TLV type AWS uses for its own values.
	TLVTypeAWS byte = 0xEA
	// TLVSubtypeAWSVPCEID is PP2_SUBTYPE_AWS_VPCE_ID: the value after the
	// subtype byte is the VPC endpoint ID, e.g. "vpce-0a1b2c3d4e5f60718".
	TLVSubtypeAWSVPCEID byte = 0x01

	v2HeaderLen  = 16
	v2MaxPayload = 0xFFFF
	v2Version    = 0x20
	inet4AddrLen = 12
	inet6AddrLen = 36
	tlvHeaderLen = 3
)

// v2Signature is the fixed 12-byte PROXY v2 preamble.
var v2Signature = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// Command is the low nibble of the version/command byte.
type Command byte

const (
	// CommandLocal marks a connection the proxy made on its own (health checks);
	// receivers use the real connection endpoints.
	CommandLocal Command = 0x0
	// CommandProxy marks a relayed connection described by the header addresses.
	CommandProxy Command = 0x1
)

// TransportProtocol is the address family and transport byte of a v2 header.
type TransportProtocol byte

// The transport protocols privlink builds and accepts. AF_UNIX is rejected:
// a load balancer never relays Unix sockets.
const (
	ProtocolUnspec TransportProtocol = 0x00
	ProtocolTCP4   TransportProtocol = 0x11
	ProtocolUDP4   TransportProtocol = 0x12
	ProtocolTCP6   TransportProtocol = 0x21
	ProtocolUDP6   TransportProtocol = 0x22
)

func (p TransportProtocol) addrLen() (int, bool) {
	switch p {
	case ProtocolUnspec:
		return 0, true
	case ProtocolTCP4, ProtocolUDP4:
		return inet4AddrLen, true
	case ProtocolTCP6, ProtocolUDP6:
		return inet6AddrLen, true
	}
	return 0, false
}

func (p TransportProtocol) is4() bool { return p == ProtocolTCP4 || p == ProtocolUDP4 }

// Errors returned by ParseV2 and Header.Marshal. Parse errors wrap one of them.
var (
	ErrBadSignature   = errors.New("proxy: not a PROXY protocol v2 signature")
	ErrBadVersion     = errors.New("proxy: unsupported PROXY protocol version")
	ErrBadCommand     = errors.New("proxy: unsupported PROXY protocol command")
	ErrBadFamily      = errors.New("proxy: unsupported PROXY protocol address family")
	ErrTruncated      = errors.New("proxy: truncated PROXY protocol header")
	ErrLengthOverrun  = errors.New("proxy: PROXY protocol length too short for address block")
	ErrBadTLV         = errors.New("proxy: malformed PROXY protocol TLV")
	ErrBadAddress     = errors.New("proxy: address does not match PROXY protocol family")
	ErrHeaderTooLarge = errors.New("proxy: PROXY protocol header exceeds 65535 payload bytes")
)

// TLV is one type-length-value extension of a v2 header.
type TLV struct {
	Type  byte
	Value []byte
}

// Header is a decoded PROXY protocol v2 header. EndpointID carries the AWS
// VPC endpoint TLV (0xEA/0x01); TLVs holds every other TLV in wire order.
type Header struct {
	Command     Command
	Protocol    TransportProtocol
	Source      netip.AddrPort
	Destination netip.AddrPort
	EndpointID  string
	TLVs        []TLV
}

// NewProxyHeader returns the header an AWS NLB sends for a relayed flow:
// source is the consumer as seen at the endpoint, destination is the endpoint
// IP and port. The family follows the source address.
func NewProxyHeader(udp bool, src, dst netip.AddrPort, endpointID string) *Header {
	proto := ProtocolTCP4
	switch {
	case udp && src.Addr().Unmap().Is4():
		proto = ProtocolUDP4
	case udp:
		proto = ProtocolUDP6
	case !src.Addr().Unmap().Is4():
		proto = ProtocolTCP6
	}
	if proto.is4() {
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	} else {
		src = netip.AddrPortFrom(as16(src.Addr()), src.Port())
		dst = netip.AddrPortFrom(as16(dst.Addr()), dst.Port())
	}
	return &Header{Command: CommandProxy, Protocol: proto, Source: src, Destination: dst, EndpointID: endpointID}
}

func as16(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom16(a.As16())
	}
	return a.WithZone("")
}

// Marshal encodes h as a v2 header: the AWS endpoint TLV (when EndpointID is
// set) first, then TLVs in order.
func (h *Header) Marshal() ([]byte, error) {
	return h.AppendTo(nil)
}

// AppendTo appends the encoded header to b.
func (h *Header) AppendTo(b []byte) ([]byte, error) {
	if h.Command != CommandLocal && h.Command != CommandProxy {
		return nil, fmt.Errorf("marshal command 0x%x: %w", byte(h.Command), ErrBadCommand)
	}
	alen, ok := h.Protocol.addrLen()
	if !ok {
		return nil, fmt.Errorf("marshal family 0x%02x: %w", byte(h.Protocol), ErrBadFamily)
	}
	payload := alen
	if h.EndpointID != "" {
		payload += tlvHeaderLen + 1 + len(h.EndpointID)
	}
	for i, t := range h.TLVs {
		if t.Type == TLVTypeAWS && len(t.Value) > 0 && t.Value[0] == TLVSubtypeAWSVPCEID {
			return nil, fmt.Errorf("marshal TLV %d: endpoint ID belongs in Header.EndpointID: %w", i, ErrBadTLV)
		}
		payload += tlvHeaderLen + len(t.Value)
	}
	if payload > v2MaxPayload {
		return nil, fmt.Errorf("marshal %d payload bytes: %w", payload, ErrHeaderTooLarge)
	}
	b = append(b, v2Signature[:]...)
	b = append(b, v2Version|byte(h.Command), byte(h.Protocol))
	b = binary.BigEndian.AppendUint16(b, uint16(payload))
	switch {
	case h.Protocol.is4():
		s, d := h.Source.Addr(), h.Destination.Addr()
		if !s.Is4() || !d.Is4() {
			return nil, fmt.Errorf("marshal %s -> %s as IPv4: %w", h.Source, h.Destination, ErrBadAddress)
		}
		s4, d4 := s.As4(), d.As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	case alen == inet6AddrLen:
		s, d := h.Source.Addr(), h.Destination.Addr()
		if !s.Is6() || !d.Is6() || s.Zone() != "" || d.Zone() != "" {
			return nil, fmt.Errorf("marshal %s -> %s as IPv6: %w", h.Source, h.Destination, ErrBadAddress)
		}
		s16, d16 := s.As16(), d.As16()
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	default:
		if h.Source.IsValid() || h.Destination.IsValid() {
			return nil, fmt.Errorf("marshal addresses with UNSPEC family: %w", ErrBadAddress)
		}
	}
	if h.EndpointID != "" {
		b = append(b, TLVTypeAWS)
		b = binary.BigEndian.AppendUint16(b, uint16(1+len(h.EndpointID)))
		b = append(b, TLVSubtypeAWSVPCEID)
		b = append(b, h.EndpointID...)
	}
	for _, t := range h.TLVs {
		b = append(b, t.Type)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b, nil
}

// WriteTo writes the encoded header to w in one call.
func (h *Header) WriteTo(w io.Writer) (int64, error) {
	b, err := h.Marshal()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	if err != nil {
		return int64(n), fmt.Errorf("write PROXY v2 header: %w", err)
	}
	return int64(n), nil
}

// ParseV2 reads exactly one PROXY protocol v2 header from r. It is strict:
// anything that is not a well-formed v2 header with a PROXY or LOCAL command,
// an INET/INET6/UNSPEC family and complete TLVs is an error, and nothing past
// the header is consumed.
func ParseV2(r *bufio.Reader) (*Header, error) {
	var fixed [v2HeaderLen]byte
	if n, err := io.ReadFull(r, fixed[:]); err != nil {
		if n > 0 && n < len(v2Signature) && !bytes.Equal(fixed[:n], v2Signature[:n]) {
			return nil, fmt.Errorf("read signature: %w", ErrBadSignature)
		}
		if n >= len(v2Signature) && !bytes.Equal(fixed[:12], v2Signature[:]) {
			return nil, fmt.Errorf("read signature: %w", ErrBadSignature)
		}
		return nil, fmt.Errorf("read fixed header (%d of %d bytes): %w: %w", n, v2HeaderLen, ErrTruncated, err)
	}
	if !bytes.Equal(fixed[:12], v2Signature[:]) {
		return nil, fmt.Errorf("read signature: %w", ErrBadSignature)
	}
	if v := fixed[12] & 0xF0; v != v2Version {
		return nil, fmt.Errorf("version nibble 0x%x: %w", v>>4, ErrBadVersion)
	}
	h := &Header{Command: Command(fixed[12] & 0x0F), Protocol: TransportProtocol(fixed[13])}
	if h.Command != CommandLocal && h.Command != CommandProxy {
		return nil, fmt.Errorf("command 0x%x: %w", byte(h.Command), ErrBadCommand)
	}
	alen, ok := h.Protocol.addrLen()
	if !ok {
		return nil, fmt.Errorf("family/transport 0x%02x: %w", fixed[13], ErrBadFamily)
	}
	length := int(binary.BigEndian.Uint16(fixed[14:]))
	if length < alen {
		return nil, fmt.Errorf("length %d < %d-byte address block: %w", length, alen, ErrLengthOverrun)
	}
	payload := make([]byte, length)
	if n, err := io.ReadFull(r, payload); err != nil {
		return nil, fmt.Errorf("read payload (%d of %d bytes): %w: %w", n, length, ErrTruncated, err)
	}
	switch alen {
	case inet4AddrLen:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(payload[0:4])), binary.BigEndian.Uint16(payload[8:]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(payload[4:8])), binary.BigEndian.Uint16(payload[10:]))
	case inet6AddrLen:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(payload[0:16])), binary.BigEndian.Uint16(payload[32:]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(payload[16:32])), binary.BigEndian.Uint16(payload[34:]))
	}
	if err := h.parseTLVs(payload[alen:], alen); err != nil {
		return nil, err
	}
	return h, nil
}

// parseTLVs decodes the TLV area; offset is its position in the payload, for
// error messages.
func (h *Header) parseTLVs(b []byte, offset int) error {
	for len(b) > 0 {
		if len(b) < tlvHeaderLen {
			return fmt.Errorf("TLV at payload offset %d: %d bytes left, need %d: %w", offset, len(b), tlvHeaderLen, ErrBadTLV)
		}
		typ, vlen := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		if tlvHeaderLen+vlen > len(b) {
			return fmt.Errorf("TLV 0x%02x at payload offset %d: value length %d overruns %d remaining bytes: %w",
				typ, offset, vlen, len(b)-tlvHeaderLen, ErrBadTLV)
		}
		value := b[tlvHeaderLen : tlvHeaderLen+vlen]
		if typ == TLVTypeAWS && vlen > 0 && value[0] == TLVSubtypeAWSVPCEID {
			switch {
			case vlen == 1:
				return fmt.Errorf("AWS VPC endpoint TLV at payload offset %d: empty endpoint ID: %w", offset, ErrBadTLV)
			case h.EndpointID != "":
				return fmt.Errorf("AWS VPC endpoint TLV at payload offset %d: duplicate: %w", offset, ErrBadTLV)
			}
			h.EndpointID = string(value[1:])
		} else {
			h.TLVs = append(h.TLVs, TLV{Type: typ, Value: bytes.Clone(value)})
		}
		b = b[tlvHeaderLen+vlen:]
		offset += tlvHeaderLen + vlen
	}
	return nil
}
