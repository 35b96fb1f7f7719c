"""Dress rehearsals: ``parley rehearse`` plays an event at speed on the real stack with simulated
people and checks every reminder and report figure against what they did. See docs/rehearsal.md.

- ``plan``: the timeline of virtual time and the simulated people (pure, seeded)
- ``stack``: the database prepared and the processes started on the virtual clock
- ``wire``: one simulated tab on the live protocol; ``actors``: attendees and the moderator
- ``smtp_sink``: the SMTP server the reminders reach; ``checks``: truth against what happened
- ``summary``: the printed, JSON and HTML summary; ``run``: all of it in order
"""
