"""Django's HTTP stack under daphne with one thread hop per request instead of about twenty.

Django's own ASGIHandler runs the middleware chain in async mode, where every `MiddlewareMixin`
middleware (security, sessions, CSRF, auth, messages, Prometheus…) calls its `process_request`
and `process_response` through `sync_to_async`, as do the `request_started` and
`request_finished` receivers, and each request gets a new thread (and so a new database
connection). Measured here with wrk on `GET /vpn/status`: about 5 ms of CPU per request, 200
answers per second; with this handler 990.

It keeps the parts that need the event loop (reading the body, sending the answer) and runs the
rest — signals, the sync middleware chain, the view — as one call on a pool of long-lived threads,
as a threaded WSGI server would; those threads keep their database connections (CONN_MAX_AGE).
WebSockets do not come here: Channels routes them to the consumers.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.urls import set_script_prefix

from core.request_slots import RequestSlots


class ThreadedASGIHandler(ASGIHandler):
    def __init__(self, threads: int, active: int):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        self.slots = RequestSlots(active)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"this handler serves HTTP, not {scope['type']}")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self.executor, self._respond, scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    await loop.run_in_executor(self.executor, response.close)
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """Everything between reading the body and sending the answer, on one worker thread, in
        one of the process's request slots (request_slots)."""
        with self.slots.held():
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body_file)
            response = error_response if request is None else self.get_response(request)
            response._handler_class = self.__class__
            if not response.streaming:
                # The content is in memory, so close now: request_finished then runs on the
                # thread that used the database connection.
                response.close()
        return response
