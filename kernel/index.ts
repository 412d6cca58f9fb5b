// grpo-agent-framework/kernel: notebook integration (tslab). Grouped re-exports, plus one side effect:
// registering the text/HTML renderers that core objects' toText()/toHTML() delegate to.
import { registerDisplayRenderer } from "../src/core/display-registry.js";
import { toHTML, toText } from "./display.js";
import { classify } from "./kinds.js";

// display(): one MIME bundle per object; in-place displays; forms for files and terminals
export {
  display, displayMessage, mimeBundle, newDisplay, clearOutput, CLEAR_OUTPUT_HOOK, input, INPUT_HOOK, toHTML, toText, toSVG, toPNG, chartImageHTML, setDisplaySink, tslabWriter, inNotebook,
  type DisplayOptions, type DisplayMessage, type DisplaySink, type UpdatableDisplay,
} from "./display.js";
export { MIME_BUNDLE_SYMBOL, type MimeBundle } from "../src/core/display-registry.js";

// The views
export {
  turnToHTML, trajectoryToHTML, groupToHTML, rewardToHTML, stepReportToHTML, healthToHTML, configToHTML, closestProfile,
  useTokenizer, logprobColor, advantageColor, trajectoryReward, type HtmlOptions, type TokenColoring,
} from "./html.js";
export {
  turnToText, trajectoryToText, groupToText, rewardToText, stepReportToText, historyToText, healthToText, configToText,
} from "./text.js";
export {
  Chart, historyChart, rewardChart, renderSVG, svgToPNG, chartFontFiles, VEGALITE_MIME,
  type VegaLiteSpec, type PngImage, type PngOptions, type HistoryChartOptions, type RewardChartInput,
} from "./charts.js";
export { classify, resolveTokenizer, tokenPieces, type TokenizerSource, type TokenDecoder } from "./kinds.js";

// Plotly figures (application/vnd.plotly.v1+json + PNG) and the HTML training report (`grpo report`)
export {
  PlotlyFigure, plotlyFigure, historyPanels, panelLayout, plotlyText, rewardComponents, PLOTLY_MIME,
  type PlotlyFigureJSON, type PlotlyFigureOptions, type PlotlyHistoryOptions, type PlotlyObject, type HistoryPanel,
} from "./plotly.js";
export { buildReport, writeReport, defaultReportPath, type ReportOptions, type ReportSummary } from "./report.js";

// Live training plots and kernel interrupts
export { liveplot, LivePlot, withInterrupt, onSigint, type LivePlotOptions, type LivePlotStats } from "./liveplot.js";

// Setup: the demo model of the tutorials, kernel registration, starting Jupyter
export { demoModel, DEMO_CONVERSATIONS, type DemoModelOptions } from "./demo.js";
export {
  installKernel, planNotebook, runNotebook, findProjectDir, projectJupyterPath, userJupyterDataDir, ensureSelfLink, tslabBin,
  kernelMain, KERNEL_NAME, KERNEL_DISPLAY_NAME, INSTALL_JUPYTER_HINT,
  type KernelInstallOptions, type KernelInstallResult, type NotebookOptions, type NotebookPlan,
} from "./install.js";

// Core objects' toText()/toHTML()/util.inspect delegate here once the kernel module is loaded.
registerDisplayRenderer({
  toText: (value) => (classify(value) ? toText(value) : undefined),
  toHTML: (value) => (classify(value) ? toHTML(value) : undefined),
});
