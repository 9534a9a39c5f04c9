// Re-embed the SQL migrations whenever one of them changes.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
