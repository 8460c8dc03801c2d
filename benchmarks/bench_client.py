"""B2: CPU per get_status call through SmscClient vs a raw keep-alive HTTP POST of the same
envelope to the same simulator (run in its own process, so only the client's CPU counts).
Also a raw urllib3 keep-alive POST, the floor of a transport built on urllib3.

    python benchmarks/bench_client.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import http.client
import time
from urllib.parse import urlsplit

import django
import urllib3
from common import configure_smsc, machine, start_simulator


def cpu_per_call(func, calls: int) -> float:
    for _ in range(50):  # warm up
        func()
    start = time.process_time()
    for _ in range(calls):
        func()
    return (time.process_time() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    server = start_simulator()
    port, endpoint = server.port, server.endpoint
    try:
        django.setup()
        configure_smsc(endpoint)
        from django_smsc_status.soap.client import get_client

        client = get_client()
        # SMSC allows 5 checks of one message a minute: spread the calls over many phones.
        phones = [f"7999{i:07d}" for i in range(args.calls + 100)]
        smsc_id = client.send_sms(",".join(phones), "bench").smsc_id
        envelopes = [
            (
                '<?xml version="1.0" encoding="utf-8"?>\n<soap-env:Envelope xmlns:soap-env='
                '"http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><ns0:status xmlns:ns0="'
                f'{endpoint}"><login>bench</login><psw>bench-pw</psw><phone>{phone}</phone>'
                f"<id>{smsc_id}</id><all>2</all></ns0:status></soap-env:Body></soap-env:Envelope>"
            ).encode()
            for phone in phones
        ]
        conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{endpoint}"'}
        path = urlsplit(endpoint).path
        raw_calls, our_calls, urllib3_calls = iter(envelopes), iter(phones), iter(envelopes)
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False)

        def raw() -> None:
            conn.request("POST", path, next(raw_calls), headers)
            body = conn.getresponse().read()
            assert b"<status>" in body, body

        def raw_urllib3() -> None:
            body = pool.urlopen("POST", path, body=next(urllib3_calls), headers=headers).data
            assert b"<status>" in body, body

        def ours() -> None:
            client.get_status(smsc_id, next(our_calls))

        raw_cpu = cpu_per_call(raw, args.calls)
        ours_cpu = cpu_per_call(ours, args.calls)
        urllib3_cpu = cpu_per_call(raw_urllib3, args.calls)
    finally:
        server.stop()
    print(f"B2 client cost — {machine()}, {args.calls} calls each")
    print(f"  raw http.client keep-alive POST   {raw_cpu * 1e6:7.0f} µs CPU per call")
    print(
        f"  SmscClient.get_status             {ours_cpu * 1e6:7.0f} µs CPU per call"
        f"   ratio {ours_cpu / raw_cpu:4.2f}  (target ≤ 2)"
    )
    print(
        f"  raw urllib3 keep-alive POST       {urllib3_cpu * 1e6:7.0f} µs CPU per call"
        f"   ratio {urllib3_cpu / raw_cpu:4.2f}  (before any SOAP work)"
    )


if __name__ == "__main__":
    main()
