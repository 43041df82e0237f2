#[tokio::main]
async fn main() -> std::process::ExitCode {
    bookinfo_details::main(std::env::args()).await
}
