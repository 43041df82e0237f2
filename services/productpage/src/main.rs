#[tokio::main]
async fn main() -> std::process::ExitCode {
    bookinfo_productpage::main(std::env::args()).await
}
