"""The importer: contract files and Segment messages into the warehouse.

- ``import_path(warehouse, path, on_error=..., reserved=..., progress=...)``
  imports a file or a folder of contract files, one transaction per file.
- ``import_messages(warehouse, messages, source=..., reserved=...)`` writes
  already parsed Segment messages (the HTTP ingest API) in one transaction;
  ``import_lines`` does the same for messages still as NDJSON lines.
- ``validate_messages(messages, reserved=...)`` says what is wrong with
  messages without writing anything.

The contract itself is docs/data-contract.md.
"""

from impactlens.ingest.importer import import_file, import_path
from impactlens.ingest.messages import import_lines, import_messages, validate_messages
from impactlens.ingest.report import FileReport, ImportReport, MessageProblem, MessagesResult

__all__ = [
    "FileReport",
    "ImportReport",
    "MessageProblem",
    "MessagesResult",
    "import_file",
    "import_lines",
    "import_messages",
    "import_path",
    "validate_messages",
]
