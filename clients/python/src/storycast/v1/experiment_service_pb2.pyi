import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPERIMENT_UNIT_UNSPECIFIED: _ClassVar[ExperimentUnit]
    EXPERIMENT_UNIT_SESSION: _ClassVar[ExperimentUnit]
    EXPERIMENT_UNIT_SEND: _ClassVar[ExperimentUnit]

class ExperimentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPERIMENT_STATE_UNSPECIFIED: _ClassVar[ExperimentState]
    EXPERIMENT_STATE_RUNNING: _ClassVar[ExperimentState]
    EXPERIMENT_STATE_STOPPED: _ClassVar[ExperimentState]
EXPERIMENT_UNIT_UNSPECIFIED: ExperimentUnit
EXPERIMENT_UNIT_SESSION: ExperimentUnit
EXPERIMENT_UNIT_SEND: ExperimentUnit
EXPERIMENT_STATE_UNSPECIFIED: ExperimentState
EXPERIMENT_STATE_RUNNING: ExperimentState
EXPERIMENT_STATE_STOPPED: ExperimentState

class Arm(_message.Message):
    __slots__ = ("name", "strategy", "weight", "control")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    name: str
    strategy: str
    weight: int
    control: bool
    def __init__(self, name: _Optional[str] = ..., strategy: _Optional[str] = ..., weight: _Optional[int] = ..., control: _Optional[bool] = ...) -> None: ...

class Experiment(_message.Message):
    __slots__ = ("key", "description", "arms", "unit", "coverage", "state", "create_time", "stop_time", "winner")
    KEY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STOP_TIME_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    key: str
    description: str
    arms: _containers.RepeatedCompositeFieldContainer[Arm]
    unit: ExperimentUnit
    coverage: float
    state: ExperimentState
    create_time: _timestamp_pb2.Timestamp
    stop_time: _timestamp_pb2.Timestamp
    winner: str
    def __init__(self, key: _Optional[str] = ..., description: _Optional[str] = ..., arms: _Optional[_Iterable[_Union[Arm, _Mapping]]] = ..., unit: _Optional[_Union[ExperimentUnit, str]] = ..., coverage: _Optional[float] = ..., state: _Optional[_Union[ExperimentState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stop_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., winner: _Optional[str] = ...) -> None: ...

class CreateExperimentRequest(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ...) -> None: ...

class CreateExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ...) -> None: ...

class GetExperimentRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class GetExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ...) -> None: ...

class ListExperimentsRequest(_message.Message):
    __slots__ = ("state", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: ExperimentState
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[ExperimentState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExperimentsResponse(_message.Message):
    __slots__ = ("experiments", "next_page_token")
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    experiments: _containers.RepeatedCompositeFieldContainer[Experiment]
    next_page_token: str
    def __init__(self, experiments: _Optional[_Iterable[_Union[Experiment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateExperimentRequest(_message.Message):
    __slots__ = ("experiment", "update_mask")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ...) -> None: ...

class StopExperimentRequest(_message.Message):
    __slots__ = ("key", "winner")
    KEY_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    key: str
    winner: str
    def __init__(self, key: _Optional[str] = ..., winner: _Optional[str] = ...) -> None: ...

class StopExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ...) -> None: ...

class GetExperimentResultsRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class Estimate(_message.Message):
    __slots__ = ("mean", "ci_low", "ci_high")
    MEAN_FIELD_NUMBER: _ClassVar[int]
    CI_LOW_FIELD_NUMBER: _ClassVar[int]
    CI_HIGH_FIELD_NUMBER: _ClassVar[int]
    mean: float
    ci_low: float
    ci_high: float
    def __init__(self, mean: _Optional[float] = ..., ci_low: _Optional[float] = ..., ci_high: _Optional[float] = ...) -> None: ...

class ArmResult(_message.Message):
    __slots__ = ("arm", "strategy", "control", "units", "sends", "ms_per_thousand", "failed_calls_per_send", "gave_up_share", "finished_share", "recipients", "unit_ms_per_thousand")
    ARM_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    SENDS_FIELD_NUMBER: _ClassVar[int]
    MS_PER_THOUSAND_FIELD_NUMBER: _ClassVar[int]
    FAILED_CALLS_PER_SEND_FIELD_NUMBER: _ClassVar[int]
    GAVE_UP_SHARE_FIELD_NUMBER: _ClassVar[int]
    FINISHED_SHARE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    UNIT_MS_PER_THOUSAND_FIELD_NUMBER: _ClassVar[int]
    arm: str
    strategy: str
    control: bool
    units: int
    sends: int
    ms_per_thousand: Estimate
    failed_calls_per_send: Estimate
    gave_up_share: float
    finished_share: float
    recipients: int
    unit_ms_per_thousand: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, arm: _Optional[str] = ..., strategy: _Optional[str] = ..., control: _Optional[bool] = ..., units: _Optional[int] = ..., sends: _Optional[int] = ..., ms_per_thousand: _Optional[_Union[Estimate, _Mapping]] = ..., failed_calls_per_send: _Optional[_Union[Estimate, _Mapping]] = ..., gave_up_share: _Optional[float] = ..., finished_share: _Optional[float] = ..., recipients: _Optional[int] = ..., unit_ms_per_thousand: _Optional[_Iterable[float]] = ...) -> None: ...

class ArmComparison(_message.Message):
    __slots__ = ("arm", "relative_difference", "ci_low", "ci_high", "p_value", "significant")
    ARM_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    CI_LOW_FIELD_NUMBER: _ClassVar[int]
    CI_HIGH_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    SIGNIFICANT_FIELD_NUMBER: _ClassVar[int]
    arm: str
    relative_difference: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    def __init__(self, arm: _Optional[str] = ..., relative_difference: _Optional[float] = ..., ci_low: _Optional[float] = ..., ci_high: _Optional[float] = ..., p_value: _Optional[float] = ..., significant: _Optional[bool] = ...) -> None: ...

class GetExperimentResultsResponse(_message.Message):
    __slots__ = ("experiment", "arms", "comparisons", "srm_p_value", "verdict", "enough_data")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    COMPARISONS_FIELD_NUMBER: _ClassVar[int]
    SRM_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ENOUGH_DATA_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    arms: _containers.RepeatedCompositeFieldContainer[ArmResult]
    comparisons: _containers.RepeatedCompositeFieldContainer[ArmComparison]
    srm_p_value: float
    verdict: str
    enough_data: bool
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ..., arms: _Optional[_Iterable[_Union[ArmResult, _Mapping]]] = ..., comparisons: _Optional[_Iterable[_Union[ArmComparison, _Mapping]]] = ..., srm_p_value: _Optional[float] = ..., verdict: _Optional[str] = ..., enough_data: _Optional[bool] = ...) -> None: ...
