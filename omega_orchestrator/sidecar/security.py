"""Who may change what: a bearer token guards every state-changing request when one is set.

Listening beyond loopback without a token is refused at start-up (see __main__).
"""

import hmac
import ipaddress


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_matches(header: str | None, token: str) -> bool:
    """Constant-time check of an 'Authorization: Bearer <token>' header."""
    if not header or not header.startswith('Bearer '):
        return False
    return hmac.compare_digest(header[len('Bearer '):].encode(), token.encode())
