"""The root of every error litelens raises on purpose: ``LitelensError``.

It sits in the bottom layer (``build.bundle``, the standard library only) so that every package can
derive from it: the bundle (``BundleError`` and its ``SignatureError``, ``SchemaError``,
``ValueKindError``, ``S3UriError``), the build (``BuildInputError``, ``ExportError``), the explain
library (``ExplainError``), the functions' runtime, and infra (publishing, signing, the template, the
local twin, the client's ``ServiceError`` and ``PlotError``, the CLI's ``CommandError``).

An error keeps the builtin base its callers catch (``class BundleError(LitelensError, ValueError)``):
``except LitelensError`` catches whatever litelens refused or could not do, and ``except ValueError``
still catches what it caught before. A bug raises a builtin error, never a ``LitelensError``.
"""

from __future__ import annotations


class LitelensError(Exception):
    """Something litelens refuses or cannot do; the message says what and, where it can, how to fix it."""
