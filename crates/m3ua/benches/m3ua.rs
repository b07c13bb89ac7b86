fn main() {} // placeholder until the m3ua engineer writes the benchmark
