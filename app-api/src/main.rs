fn main() {
    println!("app-api: not yet implemented (see the app-api issue)");
}
