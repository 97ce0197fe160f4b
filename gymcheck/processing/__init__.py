"""The user's own processing of rollouts into training samples, in gymcheck's terms.

``load`` imports a ``--processor`` or reads ``--processed`` samples and calls the processor on
one rollout; ``shapes`` recognizes the five sample shapes (DESIGN section 3b) and normalizes
each into one ``Sample``; ``values`` turns tensors and arrays into plain lists.
"""

from gymcheck.processing.load import (
    Processing,
    Processor,
    ProcessorCall,
    call_processor,
    load_processing,
    load_processor,
    read_processed,
)
from gymcheck.processing.shapes import BATCH_FORMATS, BatchFormatError, Sample, detect, normalize

__all__ = [
    "BATCH_FORMATS",
    "BatchFormatError",
    "Processing",
    "Processor",
    "ProcessorCall",
    "Sample",
    "call_processor",
    "detect",
    "load_processing",
    "load_processor",
    "normalize",
    "read_processed",
]
