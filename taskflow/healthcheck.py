"""Container health check: exit 0 when this container's server answers `/healthz` with 200, else 1.

    python -m taskflow.healthcheck [--port 8000]

The image's HEALTHCHECK runs it (the slim image has no curl). Django refuses a `Host` that is not
in ALLOWED_HOSTS, and a production deployment does not list 127.0.0.1 there, so the request names
the first allowed host instead.
"""

import argparse
import os
import sys
import urllib.error
import urllib.request


def allowed_host() -> str:
    """A host name the server accepts, taken from ALLOWED_HOSTS as the server reads it."""
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    # ".example.com" allows example.com and its subdomains; "*" allows any name.
    name = first.lstrip(".")
    return "localhost" if name in {"", "*"} else name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    args = parser.parse_args()

    request = urllib.request.Request(f"http://127.0.0.1:{args.port}/healthz", headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        print(f"healthcheck: no answer from port {args.port}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: /healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
