"""Cases <-> torch: the op and constructor tables, FakeTensor values, building a GraphModule from a case and
extracting a case from a GraphModule, the spec codec, and small fx utilities."""
