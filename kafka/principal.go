package kafka

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"strings"
)

// distinguishedName formats a certificate's subject as Kafka's default SSL
// principal mapping does (ssl.principal.mapping.rules=DEFAULT, which uses
// javax.security.auth.x500.X500Principal.getName() in RFC 2253 form): the
// RDNs from last to first, joined by ","; the attributes CN, C, L, ST, O,
// OU, STREET, DC and UID by keyword, any other as its dotted OID with the
// DER value in hex ("1.2.840.113549.1.9.1=#1611..."); the special
// characters of RFC 2253 escaped with a backslash. For example
// "CN=alice,OU=eng,O=acme".
func distinguishedName(cert *x509.Certificate) string {
	var seq []rdnSET
	if rest, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil || len(rest) > 0 {
		return cert.Subject.String() // unreachable for a certificate that parsed
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if i != len(seq)-1 {
			b.WriteByte(',')
		}
		for j, atv := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeATV(&b, atv)
		}
	}
	return b.String()
}

// rdnSET is one relative distinguished name (encoding/asn1 decodes a type
// whose name ends in SET as an ASN.1 SET OF).
type rdnSET []attributeTypeAndValue

type attributeTypeAndValue struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rfc2253Keywords are the attribute keywords X500Principal's RFC 2253 form
// uses; any other attribute is written as its OID.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

func writeATV(b *strings.Builder, atv attributeTypeAndValue) {
	oid := atv.Type.String()
	kw, known := rfc2253Keywords[oid]
	s, isString := directoryString(atv.Value)
	if !known || !isString {
		if !known {
			kw = oid
		}
		b.WriteString(kw)
		b.WriteString("=#")
		b.WriteString(hex.EncodeToString(atv.Value.FullBytes))
		return
	}
	b.WriteString(kw)
	b.WriteByte('=')
	for i, r := range s {
		switch {
		case strings.ContainsRune(`,+"\<>;`, r),
			i == 0 && (r == '#' || r == ' '),
			r == ' ' && i == len(s)-1:
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
}

// directoryString decodes a string-typed attribute value.
func directoryString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, asn1.TagBMPString:
		var s string
		if _, err := asn1.Unmarshal(v.FullBytes, &s); err != nil {
			return "", false
		}
		return s, true
	}
	return "", false
}
