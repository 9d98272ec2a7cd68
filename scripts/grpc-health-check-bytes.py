#!/usr/bin/env python3
"""Prints the bytes of the HAProxy health check in deploy/haproxy.cfg (tcp-check send-binary).

HAProxy 2.6's http-check cannot carry a gRPC request body (its strings stop at NUL bytes, and an
empty request is the frame 00 00000000), so the check writes one HTTP/2 gRPC call by hand:

  client preface            "PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n"
  SETTINGS                  empty
  HEADERS, stream 1         END_HEADERS; HPACK without Huffman or dynamic table:
                              0x83 :method POST, 0x86 :scheme http (static table),
                              :path, :authority, content-type as literals with an indexed name,
                              te: trailers as a literal with a literal name
  DATA, stream 1            END_STREAM; 00 00000000 = uncompressed, length 0: HealthCheckRequest{}

The reply's message is 00 00000002 08 01 (HealthCheckResponse{status: SERVING}); NOT_SERVING
ends in 08 02, so `tcp-check expect binary 00000000020801` passes only for SERVING.
Usage: scripts/grpc-health-check-bytes.py [--authority NAME] [--service NAME]
"""
import argparse


def literal(index_byte, value):
    assert len(value) < 127
    return bytes([index_byte, len(value)]) + value


def frame(ftype, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--authority", default="tensord")
    ap.add_argument("--service", default="", help="health service name ('' = the server as a whole)")
    a = ap.parse_args()
    block = (bytes([0x83, 0x86])
             + literal(0x04, b"/grpc.health.v1.Health/Check")
             + literal(0x01, a.authority.encode())
             + b"\x0f\x10" + bytes([16]) + b"application/grpc"
             + b"\x00" + literal(0x02, b"te")[1:] + literal(0x08, b"trailers")[1:])
    msg = b""
    if a.service:
        svc = a.service.encode()
        msg = b"\x0a" + bytes([len(svc)]) + svc
    grpc_frame = b"\x00" + len(msg).to_bytes(4, "big") + msg
    out = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
           + frame(0x4, 0x0, 0, b"")
           + frame(0x1, 0x4, 1, block)
           + frame(0x0, 0x1, 1, grpc_frame))
    print(out.hex())


if __name__ == "__main__":
    main()
