//! `actorctl`: inspect and operate a running cluster as a hidden node. See `actorctl --help`.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code = actor_ops::cli::run(std::env::args_os(), &mut out, &mut err).await;
    std::process::exit(code);
}
