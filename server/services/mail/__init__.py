"""Mails about no one morning, on the reminders' delivery record (docs/workers.md):

- ``queue``: a registration's confirmation (queued by ``registrations.register``, in its transaction)
  and any undated delivery, insert-or-ignore on its key;
- ``lost_link``: "I lost my link", the same answer for every address, throttled;
- ``messages``: organisers' messages to an audience, its preview, counts and resend.

Modules are imported by name (``from server.services.mail import messages``): ``registrations``
imports ``queue``, and ``messages`` imports ``registrations``.
"""
