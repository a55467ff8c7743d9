//! provider-hybrid-spoke: the controller manager (work in progress).
fn main() {
    eprintln!("provider-hybrid-spoke: the controller manager is not wired yet");
    std::process::exit(1);
}
