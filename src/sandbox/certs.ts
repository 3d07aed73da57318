/**
 * DEMO-ONLY loopback credentials for `driftwatch demo`'s sandbox apiserver. They are public (they
 * are in this file), so they protect nothing: the server certificate names only 127.0.0.1 and
 * localhost, and nothing outside the demo trusts this CA (only the demo's own kubeconfig carries
 * it). They are embedded so the demo needs no openssl at run time. The CA's private key was
 * thrown away after signing, so no other certificate chains to this CA.
 *
 * Made with openssl 3.0 (EC P-256): valid 2025-01-01 to 2045-12-31.
 */

/** The CA that signed the sandbox apiserver's certificate (goes into the demo kubeconfig). */
export const DEMO_CA_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUKgAwIBAgICEAAwCgYIKoZIzj0EAwIwNTEzMDEGA1UEAwwqZHJpZnR3
YXRjaCBkZW1vIHNhbmRib3ggQ0EgKGxvb3BiYWNrIG9ubHkpMB4XDTI1MDEwMTAw
MDAwMFoXDTQ1MTIzMTAwMDAwMFowNTEzMDEGA1UEAwwqZHJpZnR3YXRjaCBkZW1v
IHNhbmRib3ggQ0EgKGxvb3BiYWNrIG9ubHkpMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAE26UFKgwV/86GSA9ZyN6iVDnnEkBl9VcO60GMb+DjAvjgIfWufD4yTryQ
IRy/6kJkiQekRNIXci8ChPw1sAboGqNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNV
HQ8BAf8EBAMCAQYwHQYDVR0OBBYEFEReiaFgGkdG3njwMU6lRdxy5uYSMAoGCCqG
SM49BAMCA0cAMEQCIAGsv+6jS4+/mzxM2plwteiJMezIpZblkd3WqcZzehLtAiA/
sD3L558SGTugpAPcTG3Rt4LaXKNghR2a9rlTu9KQuQ==
-----END CERTIFICATE-----
`;

/** The sandbox apiserver's private key (demo only: public, loopback only). */
export const DEMO_SERVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqO2WCk3JKoKHaEv1
psMWD5Gjj46Ht0CC2Geq3Mz75tWhRANCAAS0+OfNDlGUTAtGTPx+3Ig4imQ7aSx5
fipUuCVStQV08VZQTAtFwqsNW8YI4lwGHrozxqZ9+7hMVRQf/Joe6WZ+
-----END PRIVATE KEY-----
`;

/** The sandbox apiserver's certificate: CN 127.0.0.1, SAN IP:127.0.0.1 and DNS:localhost. */
export const DEMO_SERVER_CERT = `-----BEGIN CERTIFICATE-----
MIIBzDCCAXKgAwIBAgICEAEwCgYIKoZIzj0EAwIwNTEzMDEGA1UEAwwqZHJpZnR3
YXRjaCBkZW1vIHNhbmRib3ggQ0EgKGxvb3BiYWNrIG9ubHkpMB4XDTI1MDEwMTAw
MDAwMFoXDTQ1MTIzMTAwMDAwMFowFDESMBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYH
KoZIzj0CAQYIKoZIzj0DAQcDQgAEtPjnzQ5RlEwLRkz8ftyIOIpkO2kseX4qVLgl
UrUFdPFWUEwLRcKrDVvGCOJcBh66M8amffu4TFUUH/yaHulmfqOBkjCBjzAMBgNV
HRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIFoDATBgNVHSUEDDAKBggrBgEFBQcDATAa
BgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwHQYDVR0OBBYEFNg50K4p3mbvpqPb
RNSyYGSFC54VMB8GA1UdIwQYMBaAFEReiaFgGkdG3njwMU6lRdxy5uYSMAoGCCqG
SM49BAMCA0gAMEUCIGpHBDeYxoRAF6QttF/GhJgXRsMpvhtspzeWACSfTX1lAiEA
zhDICVlQKJLf32J7gBDpgqwSQvMklcvPpxrAdN8dWko=
-----END CERTIFICATE-----
`;
