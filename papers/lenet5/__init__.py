"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998): the faithful network and its building blocks."""
