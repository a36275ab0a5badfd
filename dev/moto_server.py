"""moto's server, its requests handled one at a time.

moto evaluates a conditional write's condition and applies its update in Python, in the thread
of the request, with nothing around the two: two requests at once may both pass a condition
that only one of them may pass. DynamoDB's single-item conditional writes are atomic, and the
session table relies on it (one refresh lease per session: `shared/src/sessions/store.rs`).
Seen here with moto 5: 32 simultaneous conditional `UpdateItem`s of one item, 150 times, and 8
of the 150 let two of them through. So every request to this server runs under one lock, as
if DynamoDB's one item were the whole service; the server still takes connections on many
threads, so keep-alive connections do not wait for each other to close. Same arguments as
`moto_server`; the local stack (`dev/stack`) starts moto through it.
"""

import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_ONE_AT_A_TIME = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _serialised(self, environ, start_response):
    with _ONE_AT_A_TIME:
        # moto answers with a complete body, so the whole request runs under the lock.
        return list(_dispatch(self, environ, start_response))


DomainDispatcherApplication.__call__ = _serialised

if __name__ == "__main__":
    sys.exit(server.main())
