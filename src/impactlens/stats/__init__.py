"""Pure statistics: functions on numbers and arrays, no I/O, no pandas, nothing of ours.

Every public function takes sufficient statistics (n, sum, sum of squares, sum of
products) or plain numpy arrays and returns a frozen dataclass carrying every
figure a readout shows plus the name of the method that produced it.
"""
