// Bridge to the npm `vnpay` package for the interop tests.
// Usage: node vnpay_npm.mjs <prefix with node_modules/vnpay>; one JSON request on stdin,
// one JSON answer on stdout.
import { createServer } from "node:http";
import { createRequire } from "node:module";

const require = createRequire(`${process.argv[2]}/`);
const { VNPay, ignoreLogger } = require("vnpay");
const { buildPaymentUrlSearchParams, calculateSecureHash } = require("vnpay/utils");

function client(config, host) {
  return new VNPay({
    tmnCode: config.tmnCode,
    secureSecret: config.secureSecret,
    vnpayHost: host ?? "https://sandbox.vnpayment.vn",
    queryDrAndRefundHost: host ?? "https://sandbox.vnpayment.vn",
    hashAlgorithm: "SHA512",
    enableLog: false,
    loggerFn: ignoreLogger,
  });
}

// Answer the package's querydr/refund call with `answer`, and report what it sent.
async function viaLocalServer(request, call) {
  let sent;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      sent = JSON.parse(body);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(request.answer));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `http://127.0.0.1:${server.address().port}`;
  try {
    const result = await call(client(request.config, host));
    return { sent, isVerified: result.isVerified, isSuccess: result.isSuccess };
  } finally {
    server.close();
  }
}

const operations = {
  verify(request) {
    const vnpay = client(request.config);
    const ret = vnpay.verifyReturnUrl({ ...request.query });
    const ipn = vnpay.verifyIpnCall({ ...request.query });
    return { returnVerified: ret.isVerified, ipnVerified: ipn.isVerified, amount: ipn.vnp_Amount };
  },
  sign(request) {
    const data = buildPaymentUrlSearchParams(request.params).toString();
    const hash = calculateSecureHash({
      secureSecret: request.secret,
      data,
      hashAlgorithm: "SHA512",
      bufferEncode: "utf-8",
    });
    return { ...request.params, vnp_SecureHash: hash };
  },
  buildPayUrl(request) {
    return { url: client(request.config).buildPaymentUrl(request.data) };
  },
  querydr(request) {
    return viaLocalServer(request, (vnpay) => vnpay.queryDr(request.query));
  },
  refund(request) {
    return viaLocalServer(request, (vnpay) => vnpay.refund(request.refund));
  },
};

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
const answer = await operations[request.op](request);
process.stdout.write(JSON.stringify(answer));
