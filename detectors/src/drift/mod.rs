//! Change detectors over a stream of numbers: ADWIN, Page-Hinkley, DDM.
