"""Everything pgpipe raises.

::

    Error
     +-- InterfaceError       misuse of the API, or a closed connection
     +-- ProtocolError        the bytes from the server broke the protocol; connection dead
     +-- DatabaseError        DB-API category base
          +-- DataError, IntegrityError, InternalError, NotSupportedError,
          |   OperationalError (also: network failures; PipelineMismatch), ProgrammingError
          |   (also: ResultShapeError, NoRows and MultipleRows, from Result.one())
          +-- one class per SQLSTATE, e.g. UniqueViolation(IntegrityConstraintViolation),
              IntegrityConstraintViolation(IntegrityError)

Server errors are built by ``from_fields`` from an ErrorResponse and carry
every field of it. The SQLSTATE classes are generated from PostgreSQL's
errcodes.txt by ``tools/gen_errors.py`` into the marked block below.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar, Final


class Error(Exception):
    """Base of every exception pgpipe raises."""


class InterfaceError(Error):
    """The API was misused, or the connection is closed."""


class ProtocolError(Error):
    """The server, or the bytes on the wire, broke the protocol; the connection is dead."""


class DatabaseError(Error):
    """An error reported by the server (an ErrorResponse), or a DB-API category of them.

    ``fields`` maps PostgreSQL's one-letter field codes to their text; the
    properties name them.
    """

    sqlstate: ClassVar[str | None] = None

    def __init__(self, message: str = "", fields: Mapping[str, str] | None = None) -> None:
        self._fields: Mapping[str, str] = MappingProxyType(dict(fields or {}))
        self.message = message or self._fields.get("M", "")
        super().__init__(self.message)

    @property
    def fields(self) -> Mapping[str, str]:
        return self._fields

    def _int(self, code: str) -> int | None:
        value = self._fields.get(code)
        if value is None or not value.isdigit():
            return None
        return int(value)

    @property
    def code(self) -> str | None:
        """The SQLSTATE the server sent (None for client-side errors)."""
        return self._fields.get("C", type(self).sqlstate)

    @property
    def severity(self) -> str | None:
        return self._fields.get("V", self._fields.get("S"))

    @property
    def message_primary(self) -> str | None:
        return self._fields.get("M")

    @property
    def detail(self) -> str | None:
        return self._fields.get("D")

    @property
    def hint(self) -> str | None:
        return self._fields.get("H")

    @property
    def position(self) -> int | None:
        """1-based character position of the error in the SQL text."""
        return self._int("P")

    @property
    def internal_position(self) -> int | None:
        return self._int("p")

    @property
    def internal_query(self) -> str | None:
        return self._fields.get("q")

    @property
    def where(self) -> str | None:
        return self._fields.get("W")

    @property
    def schema_name(self) -> str | None:
        return self._fields.get("s")

    @property
    def table_name(self) -> str | None:
        return self._fields.get("t")

    @property
    def column_name(self) -> str | None:
        return self._fields.get("c")

    @property
    def datatype_name(self) -> str | None:
        return self._fields.get("d")

    @property
    def constraint_name(self) -> str | None:
        return self._fields.get("n")

    @property
    def source_file(self) -> str | None:
        return self._fields.get("F")

    @property
    def source_line(self) -> int | None:
        return self._int("L")

    @property
    def source_function(self) -> str | None:
        return self._fields.get("R")

    def __str__(self) -> str:
        lines = [self.message]
        if self.detail:
            lines.append(f"DETAIL:  {self.detail}")
        if self.hint:
            lines.append(f"HINT:  {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sqlstate={self.code!r}, message={self.message!r})"


class DataError(DatabaseError):
    """A value is invalid for its type (SQLSTATE class 22, or a client-side conversion)."""


class OperationalError(DatabaseError):
    """The connection or the server's operation failed (network, authentication, shutdown)."""


class IntegrityError(DatabaseError):
    """A constraint was violated (SQLSTATE class 23)."""


class InternalError(DatabaseError):
    """The server's or a transaction's internal state prevents the operation."""


class ProgrammingError(DatabaseError):
    """The SQL is wrong: syntax, missing objects, privileges (SQLSTATE class 42 and kin)."""


class NotSupportedError(DatabaseError):
    """A feature the server or pgpipe does not support."""


class PipelineMismatch(OperationalError):
    """Pipelined connect guessed an authentication method and the server asked for another.

    The server closes the connection on a wrong guess; nothing that was sent
    with the guess was executed.
    """

    def __init__(self, configured: str, server_method: str, advice: str | None = None) -> None:
        self.configured = configured
        self.server_method = server_method
        advice = advice or f"set pipeline_connect to {server_method!r} or 'auto'"
        super().__init__(
            f"pipeline_connect={configured!r} guessed the server's authentication method, but "
            f"the server asked for {server_method}; {advice}, or pass "
            "pipeline_connect_fallback=True to reconnect without pipelining"
        )


class PipelineAborted(OperationalError):
    """A statement of an atomic pipeline was skipped: an earlier one failed, so the
    server discarded the rest up to the pipeline's Sync, and nothing was committed."""


class ResultShapeError(ProgrammingError):
    """A result is not the shape its reader asked for (``Result.one()``, ``scalar()``).

    A ProgrammingError, as a wrong parameter count is: the statement does not
    do what the code around it assumes. Raised on the client; nothing was
    wrong on the server, and the connection is fine.
    """


class NoRows(ResultShapeError):
    """``Result.one()`` found no row."""


class MultipleRows(ResultShapeError):
    """``Result.one()`` found more than one row."""


class PoolError(OperationalError):
    """A pool (``pgpipe.Pool``, ``pgpipe.AsyncPool``) could not give a connection."""


class PoolTimeout(PoolError):
    """No connection of the pool became free, and none could be opened, in time."""


class TooManyRequests(PoolError):
    """The pool's waiting queue is full (``max_waiting``): refused at once."""


class PoolClosed(PoolError):
    """The pool is closed, or closed while the request waited."""


def from_fields(fields: Mapping[str, str]) -> DatabaseError:
    """The most specific exception for an ErrorResponse's fields.

    A FATAL or PANIC error ends the session: its exception is also an
    OperationalError, whatever its SQLSTATE class (an idle-in-transaction
    timeout, 25P03, is both IdleInTransactionSessionTimeout and OperationalError).
    """
    code = fields.get("C", "")
    cls = _BY_SQLSTATE.get(code) or _BY_SQLSTATE.get(code[:2] + "000") or DatabaseError
    if fields.get("V", fields.get("S")) in ("FATAL", "PANIC"):
        cls = _session_ending(cls)
    return cls(fields=fields)


_SESSION_ENDING: dict[type[DatabaseError], type[DatabaseError]] = {}


def _session_ending(cls: type[DatabaseError]) -> type[DatabaseError]:
    """``cls``, made an OperationalError too when it is not one already."""
    if issubclass(cls, OperationalError):
        return cls
    ending = _SESSION_ENDING.get(cls)
    if ending is None:
        ending = type(cls.__name__, (cls, OperationalError), {"__module__": __name__})
        _SESSION_ENDING[cls] = ending
    return ending


# BEGIN GENERATED by tools/gen_errors.py: do not edit by hand


class SqlStatementNotYetComplete(DatabaseError):
    sqlstate = "03000"


class ConnectionException(OperationalError):
    sqlstate = "08000"


class ConnectionDoesNotExist(ConnectionException):
    sqlstate = "08003"


class ConnectionFailure(ConnectionException):
    sqlstate = "08006"


class SqlclientUnableToEstablishSqlconnection(ConnectionException):
    sqlstate = "08001"


class SqlserverRejectedEstablishmentOfSqlconnection(ConnectionException):
    sqlstate = "08004"


class TransactionResolutionUnknown(ConnectionException):
    sqlstate = "08007"


class ProtocolViolation(ConnectionException):
    sqlstate = "08P01"


class TriggeredActionException(DatabaseError):
    sqlstate = "09000"


class FeatureNotSupported(NotSupportedError):
    sqlstate = "0A000"


class InvalidTransactionInitiation(DatabaseError):
    sqlstate = "0B000"


class LocatorException(DatabaseError):
    sqlstate = "0F000"


class InvalidLocatorSpecification(LocatorException):
    sqlstate = "0F001"


class InvalidGrantor(DatabaseError):
    sqlstate = "0L000"


class InvalidGrantOperation(InvalidGrantor):
    sqlstate = "0LP01"


class InvalidRoleSpecification(DatabaseError):
    sqlstate = "0P000"


class DiagnosticsException(DatabaseError):
    sqlstate = "0Z000"


class StackedDiagnosticsAccessedWithoutActiveHandler(DiagnosticsException):
    sqlstate = "0Z002"


class CaseNotFound(DatabaseError):
    sqlstate = "20000"


class CardinalityViolation(DatabaseError):
    sqlstate = "21000"


class DataException(DataError):
    sqlstate = "22000"


class ArraySubscriptError(DataException):
    sqlstate = "2202E"


class CharacterNotInRepertoire(DataException):
    sqlstate = "22021"


class DatetimeFieldOverflow(DataException):
    sqlstate = "22008"


class DivisionByZero(DataException):
    sqlstate = "22012"


class ErrorInAssignment(DataException):
    sqlstate = "22005"


class EscapeCharacterConflict(DataException):
    sqlstate = "2200B"


class IndicatorOverflow(DataException):
    sqlstate = "22022"


class IntervalFieldOverflow(DataException):
    sqlstate = "22015"


class InvalidArgumentForLogarithm(DataException):
    sqlstate = "2201E"


class InvalidArgumentForNtileFunction(DataException):
    sqlstate = "22014"


class InvalidArgumentForNthValueFunction(DataException):
    sqlstate = "22016"


class InvalidArgumentForPowerFunction(DataException):
    sqlstate = "2201F"


class InvalidArgumentForWidthBucketFunction(DataException):
    sqlstate = "2201G"


class InvalidCharacterValueForCast(DataException):
    sqlstate = "22018"


class InvalidDatetimeFormat(DataException):
    sqlstate = "22007"


class InvalidEscapeCharacter(DataException):
    sqlstate = "22019"


class InvalidEscapeOctet(DataException):
    sqlstate = "2200D"


class InvalidEscapeSequence(DataException):
    sqlstate = "22025"


class NonstandardUseOfEscapeCharacter(DataException):
    sqlstate = "22P06"


class InvalidIndicatorParameterValue(DataException):
    sqlstate = "22010"


class InvalidParameterValue(DataException):
    sqlstate = "22023"


class InvalidPrecedingOrFollowingSize(DataException):
    sqlstate = "22013"


class InvalidRegularExpression(DataException):
    sqlstate = "2201B"


class InvalidRowCountInLimitClause(DataException):
    sqlstate = "2201W"


class InvalidRowCountInResultOffsetClause(DataException):
    sqlstate = "2201X"


class InvalidTablesampleArgument(DataException):
    sqlstate = "2202H"


class InvalidTablesampleRepeat(DataException):
    sqlstate = "2202G"


class InvalidTimeZoneDisplacementValue(DataException):
    sqlstate = "22009"


class InvalidUseOfEscapeCharacter(DataException):
    sqlstate = "2200C"


class MostSpecificTypeMismatch(DataException):
    sqlstate = "2200G"


class NullValueNotAllowed(DataException):
    sqlstate = "22004"


class NullValueNoIndicatorParameter(DataException):
    sqlstate = "22002"


class NumericValueOutOfRange(DataException):
    sqlstate = "22003"


class SequenceGeneratorLimitExceeded(DataException):
    sqlstate = "2200H"


class StringDataLengthMismatch(DataException):
    sqlstate = "22026"


class StringDataRightTruncation(DataException):
    sqlstate = "22001"


class SubstringError(DataException):
    sqlstate = "22011"


class TrimError(DataException):
    sqlstate = "22027"


class UnterminatedCString(DataException):
    sqlstate = "22024"


class ZeroLengthCharacterString(DataException):
    sqlstate = "2200F"


class FloatingPointException(DataException):
    sqlstate = "22P01"


class InvalidTextRepresentation(DataException):
    sqlstate = "22P02"


class InvalidBinaryRepresentation(DataException):
    sqlstate = "22P03"


class BadCopyFileFormat(DataException):
    sqlstate = "22P04"


class UntranslatableCharacter(DataException):
    sqlstate = "22P05"


class NotAnXmlDocument(DataException):
    sqlstate = "2200L"


class InvalidXmlDocument(DataException):
    sqlstate = "2200M"


class InvalidXmlContent(DataException):
    sqlstate = "2200N"


class InvalidXmlComment(DataException):
    sqlstate = "2200S"


class InvalidXmlProcessingInstruction(DataException):
    sqlstate = "2200T"


class DuplicateJsonObjectKeyValue(DataException):
    sqlstate = "22030"


class InvalidArgumentForSqlJsonDatetimeFunction(DataException):
    sqlstate = "22031"


class InvalidJsonText(DataException):
    sqlstate = "22032"


class InvalidSqlJsonSubscript(DataException):
    sqlstate = "22033"


class MoreThanOneSqlJsonItem(DataException):
    sqlstate = "22034"


class NoSqlJsonItem(DataException):
    sqlstate = "22035"


class NonNumericSqlJsonItem(DataException):
    sqlstate = "22036"


class NonUniqueKeysInAJsonObject(DataException):
    sqlstate = "22037"


class SingletonSqlJsonItemRequired(DataException):
    sqlstate = "22038"


class SqlJsonArrayNotFound(DataException):
    sqlstate = "22039"


class SqlJsonMemberNotFound(DataException):
    sqlstate = "2203A"


class SqlJsonNumberNotFound(DataException):
    sqlstate = "2203B"


class SqlJsonObjectNotFound(DataException):
    sqlstate = "2203C"


class TooManyJsonArrayElements(DataException):
    sqlstate = "2203D"


class TooManyJsonObjectMembers(DataException):
    sqlstate = "2203E"


class SqlJsonScalarRequired(DataException):
    sqlstate = "2203F"


class SqlJsonItemCannotBeCastToTargetType(DataException):
    sqlstate = "2203G"


class IntegrityConstraintViolation(IntegrityError):
    sqlstate = "23000"


class RestrictViolation(IntegrityConstraintViolation):
    sqlstate = "23001"


class NotNullViolation(IntegrityConstraintViolation):
    sqlstate = "23502"


class ForeignKeyViolation(IntegrityConstraintViolation):
    sqlstate = "23503"


class UniqueViolation(IntegrityConstraintViolation):
    sqlstate = "23505"


class CheckViolation(IntegrityConstraintViolation):
    sqlstate = "23514"


class ExclusionViolation(IntegrityConstraintViolation):
    sqlstate = "23P01"


class InvalidCursorState(InternalError):
    sqlstate = "24000"


class InvalidTransactionState(InternalError):
    sqlstate = "25000"


class ActiveSqlTransaction(InvalidTransactionState):
    sqlstate = "25001"


class BranchTransactionAlreadyActive(InvalidTransactionState):
    sqlstate = "25002"


class HeldCursorRequiresSameIsolationLevel(InvalidTransactionState):
    sqlstate = "25008"


class InappropriateAccessModeForBranchTransaction(InvalidTransactionState):
    sqlstate = "25003"


class InappropriateIsolationLevelForBranchTransaction(InvalidTransactionState):
    sqlstate = "25004"


class NoActiveSqlTransactionForBranchTransaction(InvalidTransactionState):
    sqlstate = "25005"


class ReadOnlySqlTransaction(InvalidTransactionState):
    sqlstate = "25006"


class SchemaAndDataStatementMixingNotSupported(InvalidTransactionState):
    sqlstate = "25007"


class NoActiveSqlTransaction(InvalidTransactionState):
    sqlstate = "25P01"


class InFailedSqlTransaction(InvalidTransactionState):
    sqlstate = "25P02"


class IdleInTransactionSessionTimeout(InvalidTransactionState):
    sqlstate = "25P03"


class InvalidSqlStatementName(ProgrammingError):
    sqlstate = "26000"


class TriggeredDataChangeViolation(OperationalError):
    sqlstate = "27000"


class InvalidAuthorizationSpecification(OperationalError):
    sqlstate = "28000"


class InvalidPassword(InvalidAuthorizationSpecification):
    sqlstate = "28P01"


class DependentPrivilegeDescriptorsStillExist(InternalError):
    sqlstate = "2B000"


class DependentObjectsStillExist(DependentPrivilegeDescriptorsStillExist):
    sqlstate = "2BP01"


class InvalidTransactionTermination(InternalError):
    sqlstate = "2D000"


class SqlRoutineException(InternalError):
    sqlstate = "2F000"


class FunctionExecutedNoReturnStatement(SqlRoutineException):
    sqlstate = "2F005"


class ModifyingSqlDataNotPermitted(SqlRoutineException):
    sqlstate = "2F002"


class ProhibitedSqlStatementAttempted(SqlRoutineException):
    sqlstate = "2F003"


class ReadingSqlDataNotPermitted(SqlRoutineException):
    sqlstate = "2F004"


class InvalidCursorName(ProgrammingError):
    sqlstate = "34000"


class ExternalRoutineException(InternalError):
    sqlstate = "38000"


class ContainingSqlNotPermitted(ExternalRoutineException):
    sqlstate = "38001"


class ModifyingSqlDataNotPermitted38002(ExternalRoutineException):
    sqlstate = "38002"


class ProhibitedSqlStatementAttempted38003(ExternalRoutineException):
    sqlstate = "38003"


class ReadingSqlDataNotPermitted38004(ExternalRoutineException):
    sqlstate = "38004"


class ExternalRoutineInvocationException(InternalError):
    sqlstate = "39000"


class InvalidSqlstateReturned(ExternalRoutineInvocationException):
    sqlstate = "39001"


class NullValueNotAllowed39004(ExternalRoutineInvocationException):
    sqlstate = "39004"


class TriggerProtocolViolated(ExternalRoutineInvocationException):
    sqlstate = "39P01"


class SrfProtocolViolated(ExternalRoutineInvocationException):
    sqlstate = "39P02"


class EventTriggerProtocolViolated(ExternalRoutineInvocationException):
    sqlstate = "39P03"


class SavepointException(InternalError):
    sqlstate = "3B000"


class InvalidSavepointSpecification(SavepointException):
    sqlstate = "3B001"


class InvalidCatalogName(ProgrammingError):
    sqlstate = "3D000"


class InvalidSchemaName(ProgrammingError):
    sqlstate = "3F000"


class TransactionRollback(OperationalError):
    sqlstate = "40000"


class TransactionIntegrityConstraintViolation(TransactionRollback):
    sqlstate = "40002"


class SerializationFailure(TransactionRollback):
    sqlstate = "40001"


class StatementCompletionUnknown(TransactionRollback):
    sqlstate = "40003"


class DeadlockDetected(TransactionRollback):
    sqlstate = "40P01"


class SyntaxErrorOrAccessRuleViolation(ProgrammingError):
    sqlstate = "42000"


class SyntaxError(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42601"


class InsufficientPrivilege(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42501"


class CannotCoerce(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42846"


class GroupingError(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42803"


class WindowingError(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P20"


class InvalidRecursion(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P19"


class InvalidForeignKey(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42830"


class InvalidName(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42602"


class NameTooLong(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42622"


class ReservedName(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42939"


class DatatypeMismatch(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42804"


class IndeterminateDatatype(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P18"


class CollationMismatch(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P21"


class IndeterminateCollation(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P22"


class WrongObjectType(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42809"


class GeneratedAlways(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "428C9"


class UndefinedColumn(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42703"


class UndefinedFunction(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42883"


class UndefinedTable(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P01"


class UndefinedParameter(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P02"


class UndefinedObject(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42704"


class DuplicateColumn(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42701"


class DuplicateCursor(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P03"


class DuplicateDatabase(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P04"


class DuplicateFunction(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42723"


class DuplicatePreparedStatement(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P05"


class DuplicateSchema(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P06"


class DuplicateTable(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P07"


class DuplicateAlias(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42712"


class DuplicateObject(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42710"


class AmbiguousColumn(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42702"


class AmbiguousFunction(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42725"


class AmbiguousParameter(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P08"


class AmbiguousAlias(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P09"


class InvalidColumnReference(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P10"


class InvalidColumnDefinition(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42611"


class InvalidCursorDefinition(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P11"


class InvalidDatabaseDefinition(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P12"


class InvalidFunctionDefinition(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P13"


class InvalidPreparedStatementDefinition(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P14"


class InvalidSchemaDefinition(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P15"


class InvalidTableDefinition(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P16"


class InvalidObjectDefinition(SyntaxErrorOrAccessRuleViolation):
    sqlstate = "42P17"


class WithCheckOptionViolation(ProgrammingError):
    sqlstate = "44000"


class InsufficientResources(OperationalError):
    sqlstate = "53000"


class DiskFull(InsufficientResources):
    sqlstate = "53100"


class OutOfMemory(InsufficientResources):
    sqlstate = "53200"


class TooManyConnections(InsufficientResources):
    sqlstate = "53300"


class ConfigurationLimitExceeded(InsufficientResources):
    sqlstate = "53400"


class ProgramLimitExceeded(OperationalError):
    sqlstate = "54000"


class StatementTooComplex(ProgramLimitExceeded):
    sqlstate = "54001"


class TooManyColumns(ProgramLimitExceeded):
    sqlstate = "54011"


class TooManyArguments(ProgramLimitExceeded):
    sqlstate = "54023"


class ObjectNotInPrerequisiteState(OperationalError):
    sqlstate = "55000"


class ObjectInUse(ObjectNotInPrerequisiteState):
    sqlstate = "55006"


class CantChangeRuntimeParam(ObjectNotInPrerequisiteState):
    sqlstate = "55P02"


class LockNotAvailable(ObjectNotInPrerequisiteState):
    sqlstate = "55P03"


class UnsafeNewEnumValueUsage(ObjectNotInPrerequisiteState):
    sqlstate = "55P04"


class OperatorIntervention(OperationalError):
    sqlstate = "57000"


class QueryCanceled(OperatorIntervention):
    sqlstate = "57014"


class AdminShutdown(OperatorIntervention):
    sqlstate = "57P01"


class CrashShutdown(OperatorIntervention):
    sqlstate = "57P02"


class CannotConnectNow(OperatorIntervention):
    sqlstate = "57P03"


class DatabaseDropped(OperatorIntervention):
    sqlstate = "57P04"


class IdleSessionTimeout(OperatorIntervention):
    sqlstate = "57P05"


class SystemError(OperationalError):
    sqlstate = "58000"


class IoError(SystemError):
    sqlstate = "58030"


class UndefinedFile(SystemError):
    sqlstate = "58P01"


class DuplicateFile(SystemError):
    sqlstate = "58P02"


class SnapshotTooOld(OperationalError):
    sqlstate = "72000"


class ConfigFileError(OperationalError):
    sqlstate = "F0000"


class LockFileExists(ConfigFileError):
    sqlstate = "F0001"


class FdwError(OperationalError):
    sqlstate = "HV000"


class FdwColumnNameNotFound(FdwError):
    sqlstate = "HV005"


class FdwDynamicParameterValueNeeded(FdwError):
    sqlstate = "HV002"


class FdwFunctionSequenceError(FdwError):
    sqlstate = "HV010"


class FdwInconsistentDescriptorInformation(FdwError):
    sqlstate = "HV021"


class FdwInvalidAttributeValue(FdwError):
    sqlstate = "HV024"


class FdwInvalidColumnName(FdwError):
    sqlstate = "HV007"


class FdwInvalidColumnNumber(FdwError):
    sqlstate = "HV008"


class FdwInvalidDataType(FdwError):
    sqlstate = "HV004"


class FdwInvalidDataTypeDescriptors(FdwError):
    sqlstate = "HV006"


class FdwInvalidDescriptorFieldIdentifier(FdwError):
    sqlstate = "HV091"


class FdwInvalidHandle(FdwError):
    sqlstate = "HV00B"


class FdwInvalidOptionIndex(FdwError):
    sqlstate = "HV00C"


class FdwInvalidOptionName(FdwError):
    sqlstate = "HV00D"


class FdwInvalidStringLengthOrBufferLength(FdwError):
    sqlstate = "HV090"


class FdwInvalidStringFormat(FdwError):
    sqlstate = "HV00A"


class FdwInvalidUseOfNullPointer(FdwError):
    sqlstate = "HV009"


class FdwTooManyHandles(FdwError):
    sqlstate = "HV014"


class FdwOutOfMemory(FdwError):
    sqlstate = "HV001"


class FdwNoSchemas(FdwError):
    sqlstate = "HV00P"


class FdwOptionNameNotFound(FdwError):
    sqlstate = "HV00J"


class FdwReplyHandle(FdwError):
    sqlstate = "HV00K"


class FdwSchemaNotFound(FdwError):
    sqlstate = "HV00Q"


class FdwTableNotFound(FdwError):
    sqlstate = "HV00R"


class FdwUnableToCreateExecution(FdwError):
    sqlstate = "HV00L"


class FdwUnableToCreateReply(FdwError):
    sqlstate = "HV00M"


class FdwUnableToEstablishConnection(FdwError):
    sqlstate = "HV00N"


class PlpgsqlError(InternalError):
    sqlstate = "P0000"


class RaiseException(PlpgsqlError):
    sqlstate = "P0001"


class NoDataFound(PlpgsqlError):
    sqlstate = "P0002"


class TooManyRows(PlpgsqlError):
    sqlstate = "P0003"


class AssertFailure(PlpgsqlError):
    sqlstate = "P0004"


class InternalServerError(InternalError):
    sqlstate = "XX000"


class DataCorrupted(InternalServerError):
    sqlstate = "XX001"


class IndexCorrupted(InternalServerError):
    sqlstate = "XX002"


_BY_SQLSTATE: Final[dict[str, type[DatabaseError]]] = {
    "03000": SqlStatementNotYetComplete,
    "08000": ConnectionException,
    "08003": ConnectionDoesNotExist,
    "08006": ConnectionFailure,
    "08001": SqlclientUnableToEstablishSqlconnection,
    "08004": SqlserverRejectedEstablishmentOfSqlconnection,
    "08007": TransactionResolutionUnknown,
    "08P01": ProtocolViolation,
    "09000": TriggeredActionException,
    "0A000": FeatureNotSupported,
    "0B000": InvalidTransactionInitiation,
    "0F000": LocatorException,
    "0F001": InvalidLocatorSpecification,
    "0L000": InvalidGrantor,
    "0LP01": InvalidGrantOperation,
    "0P000": InvalidRoleSpecification,
    "0Z000": DiagnosticsException,
    "0Z002": StackedDiagnosticsAccessedWithoutActiveHandler,
    "20000": CaseNotFound,
    "21000": CardinalityViolation,
    "22000": DataException,
    "2202E": ArraySubscriptError,
    "22021": CharacterNotInRepertoire,
    "22008": DatetimeFieldOverflow,
    "22012": DivisionByZero,
    "22005": ErrorInAssignment,
    "2200B": EscapeCharacterConflict,
    "22022": IndicatorOverflow,
    "22015": IntervalFieldOverflow,
    "2201E": InvalidArgumentForLogarithm,
    "22014": InvalidArgumentForNtileFunction,
    "22016": InvalidArgumentForNthValueFunction,
    "2201F": InvalidArgumentForPowerFunction,
    "2201G": InvalidArgumentForWidthBucketFunction,
    "22018": InvalidCharacterValueForCast,
    "22007": InvalidDatetimeFormat,
    "22019": InvalidEscapeCharacter,
    "2200D": InvalidEscapeOctet,
    "22025": InvalidEscapeSequence,
    "22P06": NonstandardUseOfEscapeCharacter,
    "22010": InvalidIndicatorParameterValue,
    "22023": InvalidParameterValue,
    "22013": InvalidPrecedingOrFollowingSize,
    "2201B": InvalidRegularExpression,
    "2201W": InvalidRowCountInLimitClause,
    "2201X": InvalidRowCountInResultOffsetClause,
    "2202H": InvalidTablesampleArgument,
    "2202G": InvalidTablesampleRepeat,
    "22009": InvalidTimeZoneDisplacementValue,
    "2200C": InvalidUseOfEscapeCharacter,
    "2200G": MostSpecificTypeMismatch,
    "22004": NullValueNotAllowed,
    "22002": NullValueNoIndicatorParameter,
    "22003": NumericValueOutOfRange,
    "2200H": SequenceGeneratorLimitExceeded,
    "22026": StringDataLengthMismatch,
    "22001": StringDataRightTruncation,
    "22011": SubstringError,
    "22027": TrimError,
    "22024": UnterminatedCString,
    "2200F": ZeroLengthCharacterString,
    "22P01": FloatingPointException,
    "22P02": InvalidTextRepresentation,
    "22P03": InvalidBinaryRepresentation,
    "22P04": BadCopyFileFormat,
    "22P05": UntranslatableCharacter,
    "2200L": NotAnXmlDocument,
    "2200M": InvalidXmlDocument,
    "2200N": InvalidXmlContent,
    "2200S": InvalidXmlComment,
    "2200T": InvalidXmlProcessingInstruction,
    "22030": DuplicateJsonObjectKeyValue,
    "22031": InvalidArgumentForSqlJsonDatetimeFunction,
    "22032": InvalidJsonText,
    "22033": InvalidSqlJsonSubscript,
    "22034": MoreThanOneSqlJsonItem,
    "22035": NoSqlJsonItem,
    "22036": NonNumericSqlJsonItem,
    "22037": NonUniqueKeysInAJsonObject,
    "22038": SingletonSqlJsonItemRequired,
    "22039": SqlJsonArrayNotFound,
    "2203A": SqlJsonMemberNotFound,
    "2203B": SqlJsonNumberNotFound,
    "2203C": SqlJsonObjectNotFound,
    "2203D": TooManyJsonArrayElements,
    "2203E": TooManyJsonObjectMembers,
    "2203F": SqlJsonScalarRequired,
    "2203G": SqlJsonItemCannotBeCastToTargetType,
    "23000": IntegrityConstraintViolation,
    "23001": RestrictViolation,
    "23502": NotNullViolation,
    "23503": ForeignKeyViolation,
    "23505": UniqueViolation,
    "23514": CheckViolation,
    "23P01": ExclusionViolation,
    "24000": InvalidCursorState,
    "25000": InvalidTransactionState,
    "25001": ActiveSqlTransaction,
    "25002": BranchTransactionAlreadyActive,
    "25008": HeldCursorRequiresSameIsolationLevel,
    "25003": InappropriateAccessModeForBranchTransaction,
    "25004": InappropriateIsolationLevelForBranchTransaction,
    "25005": NoActiveSqlTransactionForBranchTransaction,
    "25006": ReadOnlySqlTransaction,
    "25007": SchemaAndDataStatementMixingNotSupported,
    "25P01": NoActiveSqlTransaction,
    "25P02": InFailedSqlTransaction,
    "25P03": IdleInTransactionSessionTimeout,
    "26000": InvalidSqlStatementName,
    "27000": TriggeredDataChangeViolation,
    "28000": InvalidAuthorizationSpecification,
    "28P01": InvalidPassword,
    "2B000": DependentPrivilegeDescriptorsStillExist,
    "2BP01": DependentObjectsStillExist,
    "2D000": InvalidTransactionTermination,
    "2F000": SqlRoutineException,
    "2F005": FunctionExecutedNoReturnStatement,
    "2F002": ModifyingSqlDataNotPermitted,
    "2F003": ProhibitedSqlStatementAttempted,
    "2F004": ReadingSqlDataNotPermitted,
    "34000": InvalidCursorName,
    "38000": ExternalRoutineException,
    "38001": ContainingSqlNotPermitted,
    "38002": ModifyingSqlDataNotPermitted38002,
    "38003": ProhibitedSqlStatementAttempted38003,
    "38004": ReadingSqlDataNotPermitted38004,
    "39000": ExternalRoutineInvocationException,
    "39001": InvalidSqlstateReturned,
    "39004": NullValueNotAllowed39004,
    "39P01": TriggerProtocolViolated,
    "39P02": SrfProtocolViolated,
    "39P03": EventTriggerProtocolViolated,
    "3B000": SavepointException,
    "3B001": InvalidSavepointSpecification,
    "3D000": InvalidCatalogName,
    "3F000": InvalidSchemaName,
    "40000": TransactionRollback,
    "40002": TransactionIntegrityConstraintViolation,
    "40001": SerializationFailure,
    "40003": StatementCompletionUnknown,
    "40P01": DeadlockDetected,
    "42000": SyntaxErrorOrAccessRuleViolation,
    "42601": SyntaxError,
    "42501": InsufficientPrivilege,
    "42846": CannotCoerce,
    "42803": GroupingError,
    "42P20": WindowingError,
    "42P19": InvalidRecursion,
    "42830": InvalidForeignKey,
    "42602": InvalidName,
    "42622": NameTooLong,
    "42939": ReservedName,
    "42804": DatatypeMismatch,
    "42P18": IndeterminateDatatype,
    "42P21": CollationMismatch,
    "42P22": IndeterminateCollation,
    "42809": WrongObjectType,
    "428C9": GeneratedAlways,
    "42703": UndefinedColumn,
    "42883": UndefinedFunction,
    "42P01": UndefinedTable,
    "42P02": UndefinedParameter,
    "42704": UndefinedObject,
    "42701": DuplicateColumn,
    "42P03": DuplicateCursor,
    "42P04": DuplicateDatabase,
    "42723": DuplicateFunction,
    "42P05": DuplicatePreparedStatement,
    "42P06": DuplicateSchema,
    "42P07": DuplicateTable,
    "42712": DuplicateAlias,
    "42710": DuplicateObject,
    "42702": AmbiguousColumn,
    "42725": AmbiguousFunction,
    "42P08": AmbiguousParameter,
    "42P09": AmbiguousAlias,
    "42P10": InvalidColumnReference,
    "42611": InvalidColumnDefinition,
    "42P11": InvalidCursorDefinition,
    "42P12": InvalidDatabaseDefinition,
    "42P13": InvalidFunctionDefinition,
    "42P14": InvalidPreparedStatementDefinition,
    "42P15": InvalidSchemaDefinition,
    "42P16": InvalidTableDefinition,
    "42P17": InvalidObjectDefinition,
    "44000": WithCheckOptionViolation,
    "53000": InsufficientResources,
    "53100": DiskFull,
    "53200": OutOfMemory,
    "53300": TooManyConnections,
    "53400": ConfigurationLimitExceeded,
    "54000": ProgramLimitExceeded,
    "54001": StatementTooComplex,
    "54011": TooManyColumns,
    "54023": TooManyArguments,
    "55000": ObjectNotInPrerequisiteState,
    "55006": ObjectInUse,
    "55P02": CantChangeRuntimeParam,
    "55P03": LockNotAvailable,
    "55P04": UnsafeNewEnumValueUsage,
    "57000": OperatorIntervention,
    "57014": QueryCanceled,
    "57P01": AdminShutdown,
    "57P02": CrashShutdown,
    "57P03": CannotConnectNow,
    "57P04": DatabaseDropped,
    "57P05": IdleSessionTimeout,
    "58000": SystemError,
    "58030": IoError,
    "58P01": UndefinedFile,
    "58P02": DuplicateFile,
    "72000": SnapshotTooOld,
    "F0000": ConfigFileError,
    "F0001": LockFileExists,
    "HV000": FdwError,
    "HV005": FdwColumnNameNotFound,
    "HV002": FdwDynamicParameterValueNeeded,
    "HV010": FdwFunctionSequenceError,
    "HV021": FdwInconsistentDescriptorInformation,
    "HV024": FdwInvalidAttributeValue,
    "HV007": FdwInvalidColumnName,
    "HV008": FdwInvalidColumnNumber,
    "HV004": FdwInvalidDataType,
    "HV006": FdwInvalidDataTypeDescriptors,
    "HV091": FdwInvalidDescriptorFieldIdentifier,
    "HV00B": FdwInvalidHandle,
    "HV00C": FdwInvalidOptionIndex,
    "HV00D": FdwInvalidOptionName,
    "HV090": FdwInvalidStringLengthOrBufferLength,
    "HV00A": FdwInvalidStringFormat,
    "HV009": FdwInvalidUseOfNullPointer,
    "HV014": FdwTooManyHandles,
    "HV001": FdwOutOfMemory,
    "HV00P": FdwNoSchemas,
    "HV00J": FdwOptionNameNotFound,
    "HV00K": FdwReplyHandle,
    "HV00Q": FdwSchemaNotFound,
    "HV00R": FdwTableNotFound,
    "HV00L": FdwUnableToCreateExecution,
    "HV00M": FdwUnableToCreateReply,
    "HV00N": FdwUnableToEstablishConnection,
    "P0000": PlpgsqlError,
    "P0001": RaiseException,
    "P0002": NoDataFound,
    "P0003": TooManyRows,
    "P0004": AssertFailure,
    "XX000": InternalServerError,
    "XX001": DataCorrupted,
    "XX002": IndexCorrupted,
}
# END GENERATED


class QueryTimeout(QueryCanceled):
    """A call's ``timeout`` expired, or its asyncio task was cancelled, and pgpipe
    cancelled the statement.

    ``closed`` says what became of the connection: False when the server
    answered the cancel within ``cancel_timeout`` and the connection is back in
    sync, True when it did not and pgpipe closed the connection. The statement
    may have completed before the cancel reached the server (its effects then
    stand); ``fields`` holds the server's error when it reported one.
    """

    def __init__(
        self, message: str, *, closed: bool, fields: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message, fields)
        self.closed = closed
