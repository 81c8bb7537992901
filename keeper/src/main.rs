fn main() {
    println!("keeper: AMM program {}", keeper::amm_program_id());
}
