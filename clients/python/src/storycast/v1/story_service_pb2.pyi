import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from storycast.v1 import recipient_list_pb2 as _recipient_list_pb2
from storycast.v1 import schedule_pb2 as _schedule_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OnDisconnect(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ON_DISCONNECT_UNSPECIFIED: _ClassVar[OnDisconnect]
    ON_DISCONNECT_CANCEL: _ClassVar[OnDisconnect]
    ON_DISCONNECT_CONTINUE: _ClassVar[OnDisconnect]

class SendMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEND_MODE_UNSPECIFIED: _ClassVar[SendMode]
    SEND_MODE_SINGLE: _ClassVar[SendMode]
    SEND_MODE_SMART: _ClassVar[SendMode]

class Speed(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEED_UNSPECIFIED: _ClassVar[Speed]
    SPEED_FAST: _ClassVar[Speed]
    SPEED_NORMAL: _ClassVar[Speed]
    SPEED_SLOW: _ClassVar[Speed]

class SendState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEND_STATE_UNSPECIFIED: _ClassVar[SendState]
    SEND_STATE_RUNNING: _ClassVar[SendState]
    SEND_STATE_SUCCEEDED: _ClassVar[SendState]
    SEND_STATE_CANCELLED: _ClassVar[SendState]
    SEND_STATE_FAILED: _ClassVar[SendState]
    SEND_STATE_SCHEDULED: _ClassVar[SendState]
ON_DISCONNECT_UNSPECIFIED: OnDisconnect
ON_DISCONNECT_CANCEL: OnDisconnect
ON_DISCONNECT_CONTINUE: OnDisconnect
SEND_MODE_UNSPECIFIED: SendMode
SEND_MODE_SINGLE: SendMode
SEND_MODE_SMART: SendMode
SPEED_UNSPECIFIED: Speed
SPEED_FAST: Speed
SPEED_NORMAL: Speed
SPEED_SLOW: Speed
SEND_STATE_UNSPECIFIED: SendState
SEND_STATE_RUNNING: SendState
SEND_STATE_SUCCEEDED: SendState
SEND_STATE_CANCELLED: SendState
SEND_STATE_FAILED: SendState
SEND_STATE_SCHEDULED: SendState

class SendStoryRequest(_message.Message):
    __slots__ = ("session_id", "story", "recipients", "strategy", "request_id", "on_disconnect", "experiment", "recipient_list", "all_contacts", "start_time", "repeat", "time_zone")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STORY_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ON_DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_LIST_FIELD_NUMBER: _ClassVar[int]
    ALL_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    REPEAT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    story: Story
    recipients: _containers.RepeatedScalarFieldContainer[str]
    strategy: str
    request_id: str
    on_disconnect: OnDisconnect
    experiment: str
    recipient_list: str
    all_contacts: bool
    start_time: _timestamp_pb2.Timestamp
    repeat: str
    time_zone: str
    def __init__(self, session_id: _Optional[str] = ..., story: _Optional[_Union[Story, _Mapping]] = ..., recipients: _Optional[_Iterable[str]] = ..., strategy: _Optional[str] = ..., request_id: _Optional[str] = ..., on_disconnect: _Optional[_Union[OnDisconnect, str]] = ..., experiment: _Optional[str] = ..., recipient_list: _Optional[str] = ..., all_contacts: _Optional[bool] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., repeat: _Optional[str] = ..., time_zone: _Optional[str] = ...) -> None: ...

class Story(_message.Message):
    __slots__ = ("text", "image", "video")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    text: TextStory
    image: MediaStory
    video: MediaStory
    def __init__(self, text: _Optional[_Union[TextStory, _Mapping]] = ..., image: _Optional[_Union[MediaStory, _Mapping]] = ..., video: _Optional[_Union[MediaStory, _Mapping]] = ...) -> None: ...

class TextStory(_message.Message):
    __slots__ = ("text", "background_color", "font")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_COLOR_FIELD_NUMBER: _ClassVar[int]
    FONT_FIELD_NUMBER: _ClassVar[int]
    text: str
    background_color: str
    font: int
    def __init__(self, text: _Optional[str] = ..., background_color: _Optional[str] = ..., font: _Optional[int] = ...) -> None: ...

class MediaStory(_message.Message):
    __slots__ = ("data", "url", "caption", "mime_type")
    DATA_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    url: str
    caption: str
    mime_type: str
    def __init__(self, data: _Optional[bytes] = ..., url: _Optional[str] = ..., caption: _Optional[str] = ..., mime_type: _Optional[str] = ...) -> None: ...

class SendStoryResponse(_message.Message):
    __slots__ = ("planned", "anchor", "batch", "summary", "scheduled")
    PLANNED_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    planned: SendPlanned
    anchor: AnchorSent
    batch: BatchSent
    summary: SendSummary
    scheduled: _schedule_pb2.SendScheduled
    def __init__(self, planned: _Optional[_Union[SendPlanned, _Mapping]] = ..., anchor: _Optional[_Union[AnchorSent, _Mapping]] = ..., batch: _Optional[_Union[BatchSent, _Mapping]] = ..., summary: _Optional[_Union[SendSummary, _Mapping]] = ..., scheduled: _Optional[_Union[_schedule_pb2.SendScheduled, _Mapping]] = ...) -> None: ...

class SendPlanned(_message.Message):
    __slots__ = ("send_id", "session_id", "strategy", "mode", "total_recipients", "invalid_recipients", "duplicate_recipients", "used_history", "proven_batch_size", "first_batch_size", "reason", "experiment", "arm", "strategy_reason", "sources")
    SEND_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    INVALID_RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    USED_HISTORY_FIELD_NUMBER: _ClassVar[int]
    PROVEN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    FIRST_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    send_id: str
    session_id: str
    strategy: str
    mode: SendMode
    total_recipients: int
    invalid_recipients: _containers.RepeatedCompositeFieldContainer[InvalidRecipient]
    duplicate_recipients: int
    used_history: bool
    proven_batch_size: int
    first_batch_size: int
    reason: str
    experiment: str
    arm: str
    strategy_reason: str
    sources: RecipientSources
    def __init__(self, send_id: _Optional[str] = ..., session_id: _Optional[str] = ..., strategy: _Optional[str] = ..., mode: _Optional[_Union[SendMode, str]] = ..., total_recipients: _Optional[int] = ..., invalid_recipients: _Optional[_Iterable[_Union[InvalidRecipient, _Mapping]]] = ..., duplicate_recipients: _Optional[int] = ..., used_history: _Optional[bool] = ..., proven_batch_size: _Optional[int] = ..., first_batch_size: _Optional[int] = ..., reason: _Optional[str] = ..., experiment: _Optional[str] = ..., arm: _Optional[str] = ..., strategy_reason: _Optional[str] = ..., sources: _Optional[_Union[RecipientSources, _Mapping]] = ...) -> None: ...

class RecipientSources(_message.Message):
    __slots__ = ("request", "list", "contacts")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    request: int
    list: int
    contacts: int
    def __init__(self, request: _Optional[int] = ..., list: _Optional[int] = ..., contacts: _Optional[int] = ...) -> None: ...

class InvalidRecipient(_message.Message):
    __slots__ = ("input", "reason", "index")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    input: str
    reason: str
    index: int
    def __init__(self, input: _Optional[str] = ..., reason: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class AnchorSent(_message.Message):
    __slots__ = ("message_id", "recipients", "duration_ms", "attempts")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    recipients: int
    duration_ms: int
    attempts: int
    def __init__(self, message_id: _Optional[str] = ..., recipients: _Optional[int] = ..., duration_ms: _Optional[int] = ..., attempts: _Optional[int] = ...) -> None: ...

class BatchSent(_message.Message):
    __slots__ = ("index", "size", "duration_ms", "ok", "error", "speed", "delivered", "failed", "remaining", "next_batch_size", "reason", "late", "refused", "setup_ms")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    NEXT_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LATE_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    SETUP_MS_FIELD_NUMBER: _ClassVar[int]
    index: int
    size: int
    duration_ms: int
    ok: bool
    error: BatchError
    speed: Speed
    delivered: int
    failed: int
    remaining: int
    next_batch_size: int
    reason: str
    late: bool
    refused: int
    setup_ms: int
    def __init__(self, index: _Optional[int] = ..., size: _Optional[int] = ..., duration_ms: _Optional[int] = ..., ok: _Optional[bool] = ..., error: _Optional[_Union[BatchError, _Mapping]] = ..., speed: _Optional[_Union[Speed, str]] = ..., delivered: _Optional[int] = ..., failed: _Optional[int] = ..., remaining: _Optional[int] = ..., next_batch_size: _Optional[int] = ..., reason: _Optional[str] = ..., late: _Optional[bool] = ..., refused: _Optional[int] = ..., setup_ms: _Optional[int] = ...) -> None: ...

class BatchError(_message.Message):
    __slots__ = ("code", "message", "retryable", "whatsapp_code")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    WHATSAPP_CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    retryable: bool
    whatsapp_code: int
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ..., whatsapp_code: _Optional[int] = ...) -> None: ...

class SendSummary(_message.Message):
    __slots__ = ("send_id", "message_id", "total", "delivered", "failed", "invalid", "batches", "batch_sequence", "total_duration_ms", "stopped_by", "session_learning")
    SEND_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    INVALID_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    BATCH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_BY_FIELD_NUMBER: _ClassVar[int]
    SESSION_LEARNING_FIELD_NUMBER: _ClassVar[int]
    send_id: str
    message_id: str
    total: int
    delivered: int
    failed: _containers.RepeatedCompositeFieldContainer[FailedRecipient]
    invalid: int
    batches: int
    batch_sequence: _containers.RepeatedScalarFieldContainer[int]
    total_duration_ms: int
    stopped_by: str
    session_learning: SessionLearning
    def __init__(self, send_id: _Optional[str] = ..., message_id: _Optional[str] = ..., total: _Optional[int] = ..., delivered: _Optional[int] = ..., failed: _Optional[_Iterable[_Union[FailedRecipient, _Mapping]]] = ..., invalid: _Optional[int] = ..., batches: _Optional[int] = ..., batch_sequence: _Optional[_Iterable[int]] = ..., total_duration_ms: _Optional[int] = ..., stopped_by: _Optional[str] = ..., session_learning: _Optional[_Union[SessionLearning, _Mapping]] = ...) -> None: ...

class FailedRecipient(_message.Message):
    __slots__ = ("recipient", "code", "reason")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    recipient: str
    code: str
    reason: str
    def __init__(self, recipient: _Optional[str] = ..., code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SessionLearning(_message.Message):
    __slots__ = ("max_proven_batch_size", "used_historical_data", "will_skip_ramping_next_time")
    MAX_PROVEN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    USED_HISTORICAL_DATA_FIELD_NUMBER: _ClassVar[int]
    WILL_SKIP_RAMPING_NEXT_TIME_FIELD_NUMBER: _ClassVar[int]
    max_proven_batch_size: int
    used_historical_data: bool
    will_skip_ramping_next_time: bool
    def __init__(self, max_proven_batch_size: _Optional[int] = ..., used_historical_data: _Optional[bool] = ..., will_skip_ramping_next_time: _Optional[bool] = ...) -> None: ...

class GetSessionLearningRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionLearningResponse(_message.Message):
    __slots__ = ("found", "history")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    found: bool
    history: SessionHistory
    def __init__(self, found: _Optional[bool] = ..., history: _Optional[_Union[SessionHistory, _Mapping]] = ...) -> None: ...

class SessionHistory(_message.Message):
    __slots__ = ("session_id", "max_proven_batch_size", "last_successful_send", "expire_time", "total_successful_sends", "total_attempts", "average_batch_time_ms", "success_rate", "min_failed_batch_size", "learned_calls_per_second", "call_rate_learn_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_PROVEN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LAST_SUCCESSFUL_SEND_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SUCCESSFUL_SENDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_BATCH_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    MIN_FAILED_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEARNED_CALLS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    CALL_RATE_LEARN_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    max_proven_batch_size: int
    last_successful_send: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    total_successful_sends: int
    total_attempts: int
    average_batch_time_ms: float
    success_rate: float
    min_failed_batch_size: int
    learned_calls_per_second: float
    call_rate_learn_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., max_proven_batch_size: _Optional[int] = ..., last_successful_send: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., total_successful_sends: _Optional[int] = ..., total_attempts: _Optional[int] = ..., average_batch_time_ms: _Optional[float] = ..., success_rate: _Optional[float] = ..., min_failed_batch_size: _Optional[int] = ..., learned_calls_per_second: _Optional[float] = ..., call_rate_learn_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ResetSessionLearningRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ResetSessionLearningResponse(_message.Message):
    __slots__ = ("existed",)
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    existed: bool
    def __init__(self, existed: _Optional[bool] = ...) -> None: ...

class ListStrategiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStrategiesResponse(_message.Message):
    __slots__ = ("strategies", "default_strategy")
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    strategies: _containers.RepeatedCompositeFieldContainer[StrategyInfo]
    default_strategy: str
    def __init__(self, strategies: _Optional[_Iterable[_Union[StrategyInfo, _Mapping]]] = ..., default_strategy: _Optional[str] = ...) -> None: ...

class StrategyInfo(_message.Message):
    __slots__ = ("name", "description", "builtin")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    builtin: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., builtin: _Optional[bool] = ...) -> None: ...

class GetStoryReceiptsRequest(_message.Message):
    __slots__ = ("session_id", "message_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., message_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetStoryReceiptsResponse(_message.Message):
    __slots__ = ("session_id", "message_id", "counts", "recipients", "next_page_token", "total_size", "create_time", "expire_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message_id: str
    counts: ReceiptCounts
    recipients: _containers.RepeatedCompositeFieldContainer[RecipientReceipt]
    next_page_token: str
    total_size: int
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., message_id: _Optional[str] = ..., counts: _Optional[_Union[ReceiptCounts, _Mapping]] = ..., recipients: _Optional[_Iterable[_Union[RecipientReceipt, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReceiptCounts(_message.Message):
    __slots__ = ("sent", "delivered", "read")
    SENT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    sent: int
    delivered: int
    read: int
    def __init__(self, sent: _Optional[int] = ..., delivered: _Optional[int] = ..., read: _Optional[int] = ...) -> None: ...

class RecipientReceipt(_message.Message):
    __slots__ = ("recipient", "sent", "deliver_time", "read_time")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    DELIVER_TIME_FIELD_NUMBER: _ClassVar[int]
    READ_TIME_FIELD_NUMBER: _ClassVar[int]
    recipient: str
    sent: bool
    deliver_time: _timestamp_pb2.Timestamp
    read_time: _timestamp_pb2.Timestamp
    def __init__(self, recipient: _Optional[str] = ..., sent: _Optional[bool] = ..., deliver_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., read_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchSendRequest(_message.Message):
    __slots__ = ("send_id", "after_event")
    SEND_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_FIELD_NUMBER: _ClassVar[int]
    send_id: str
    after_event: int
    def __init__(self, send_id: _Optional[str] = ..., after_event: _Optional[int] = ...) -> None: ...

class GetSendRequest(_message.Message):
    __slots__ = ("send_id",)
    SEND_ID_FIELD_NUMBER: _ClassVar[int]
    send_id: str
    def __init__(self, send_id: _Optional[str] = ...) -> None: ...

class GetSendResponse(_message.Message):
    __slots__ = ("send",)
    SEND_FIELD_NUMBER: _ClassVar[int]
    send: Send
    def __init__(self, send: _Optional[_Union[Send, _Mapping]] = ...) -> None: ...

class ListSendsRequest(_message.Message):
    __slots__ = ("session_id", "state", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    state: SendState
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., state: _Optional[_Union[SendState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSendsResponse(_message.Message):
    __slots__ = ("sends", "next_page_token")
    SENDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sends: _containers.RepeatedCompositeFieldContainer[Send]
    next_page_token: str
    def __init__(self, sends: _Optional[_Iterable[_Union[Send, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelSendRequest(_message.Message):
    __slots__ = ("send_id",)
    SEND_ID_FIELD_NUMBER: _ClassVar[int]
    send_id: str
    def __init__(self, send_id: _Optional[str] = ...) -> None: ...

class CancelSendResponse(_message.Message):
    __slots__ = ("send",)
    SEND_FIELD_NUMBER: _ClassVar[int]
    send: Send
    def __init__(self, send: _Optional[_Union[Send, _Mapping]] = ...) -> None: ...

class Send(_message.Message):
    __slots__ = ("send_id", "request_id", "session_id", "strategy", "state", "total", "delivered", "failed", "remaining", "events", "summary", "failure_reason", "failure_message", "create_time", "update_time", "expire_time", "start_time", "schedule_id")
    SEND_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    send_id: str
    request_id: str
    session_id: str
    strategy: str
    state: SendState
    total: int
    delivered: int
    failed: int
    remaining: int
    events: int
    summary: SendSummary
    failure_reason: str
    failure_message: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    schedule_id: str
    def __init__(self, send_id: _Optional[str] = ..., request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., strategy: _Optional[str] = ..., state: _Optional[_Union[SendState, str]] = ..., total: _Optional[int] = ..., delivered: _Optional[int] = ..., failed: _Optional[int] = ..., remaining: _Optional[int] = ..., events: _Optional[int] = ..., summary: _Optional[_Union[SendSummary, _Mapping]] = ..., failure_reason: _Optional[str] = ..., failure_message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., schedule_id: _Optional[str] = ...) -> None: ...
