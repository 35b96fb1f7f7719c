"""Names vulture reports as unused that a framework, a library or the wire uses: read by vulture only.

Decorated entry points (click commands, pydantic validators, Celery tasks, pytest fixtures) and
``model_config`` are ignored in pyproject's [tool.vulture]; Starlette routes are used by their
route tables. Anything else vulture reports is dead code: delete it rather than add it here.
"""

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# SQLAlchemy reads these by name: the declarative base, a TypeDecorator, audit columns nobody reads in code
_.type_annotation_map
_.impl
_.cache_ok
_.process_bind_param
_.process_result_value
_.updated_at

# click: the exit code and the error printer of a ClickException
_.exit_code
_.show

# pydantic fields that leave as JSON (stored state, frames) or are set through model_copy(update=...)
_.dismissed_at
_.approved_at
_.next_speech_id  # allocated by name: Tx.allocate("speech") reads f"next_{kind}_id"
_.protocol_version
_.server_time
_.ignored_columns  # the bulk registration preview's, written as a dict key
_.seqs

# PyYAML's Dumper hook
_.ignore_aliases

# attributes the standard library and openpyxl read when they write
_.compress_type  # zipfile.ZipInfo
_.create_system
_.external_attr
_.body_encoding  # email.charset.Charset
_.number_format  # openpyxl cells, workbook and sheet
_.creator
_.freeze_panes
_.worker_enable_remote_control  # Celery configuration

# tests: handler methods called by http.server and aiosmtpd, uvicorn's stop flag, and a label that
# shows in the repr of a failing test's Parley
_.do_GET
_.log_message
_.handle_RCPT
_.handle_DATA
_.handle_QUIT
_.should_exit
_.backend

# Starlette calls a path convertor's regex, convert and to_string
_.regex
_.convert
_.to_string

# the fault bench's figures leave as JSON through dataclasses.asdict
_.delivered
_.states_equal

# response models of the HTTP routes: their fields leave as JSON and are documented in the OpenAPI document
_.components
_.last_day
_.unique_attendees

# who sent an organiser's message: kept with it for the record (server/services/mail/messages.py)
_.created_by
_.scopes  # certificate_routes.CertificateList
# asyncio calls a Protocol's callbacks by name (the benchmark's light websocket client)
_.connection_made
# Celery calls the signal receivers it was given (workers/task_metrics.py)
_._succeeded
_._failed
_._retried
_._serve_metrics
_.connection_lost
_.data_received
