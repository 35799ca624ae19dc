"""The pipeline: wires the stages into ``cli.py process`` (chunks, workers, resume,
fail-closed per-view logic, outputs). The only place where stages meet."""

from orscene.pipeline.chunks import Chunk, ChunkExecutor, LocalExecutor, SerialExecutor, make_executor, plan_chunks
from orscene.pipeline.config import OnError, OutputFormat, PipelineConfig
from orscene.pipeline.fallback import FallbackConfig, HeadRegion, head_region_from_3d, head_regions_from_2d
from orscene.pipeline.outputs import OutputLayout, check_output_location
from orscene.pipeline.run import ProcessConfig, process_session, run_process

__all__ = [
    "Chunk",
    "ChunkExecutor",
    "LocalExecutor",
    "SerialExecutor",
    "make_executor",
    "plan_chunks",
    "OnError",
    "OutputFormat",
    "PipelineConfig",
    "FallbackConfig",
    "HeadRegion",
    "head_region_from_3d",
    "head_regions_from_2d",
    "OutputLayout",
    "check_output_location",
    "ProcessConfig",
    "process_session",
    "run_process",
]
